"""How every page with forms hands a form to a service: the errors go next to their fields, and a
success is a message and a redirect (POST / redirect / GET)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django import forms
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect


def apply_errors(form: forms.Form, error: ValidationError) -> None:
    """Put each error next to the field it names; errors naming no field of the form (or none at
    all) go above the form."""
    if hasattr(error, "error_dict"):
        for field, errors in error.error_dict.items():
            form.add_error(field if field in form.fields else None, errors)
    else:
        form.add_error(None, error)


def submit(
    request: HttpRequest,
    form: forms.Form,
    action: Callable[[dict], Any],
    *,
    done: Callable[[Any], str] | str,
    back: str,
) -> HttpResponse | None:
    """Validate `form` and call `action(cleaned_data)`. On success: the message `done` (or
    `done(result)`) and a redirect to `back`. None: the page is to be shown again with the
    errors, the service's among them, next to their fields; nothing was saved."""
    if not form.is_valid():
        return None
    try:
        result = action(form.cleaned_data)
    except ValidationError as exc:
        apply_errors(form, exc)
        return None
    messages.success(request, done if isinstance(done, str) else done(result))
    return redirect(back)
