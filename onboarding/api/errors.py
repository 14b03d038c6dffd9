from django.http import Http404
from rest_framework.exceptions import NotFound
from rest_framework.views import exception_handler as drf_exception_handler


def exception_handler(exc, context):
    # One body for every 404, so a foreign id and a missing one cannot be told apart.
    if isinstance(exc, Http404 | NotFound):
        exc = NotFound("Not found.")
    return drf_exception_handler(exc, context)
