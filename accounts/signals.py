from django.contrib.auth.signals import user_logged_in
from django.dispatch import receiver

from portal.tenancy.sessions import bind_session_to_tenant


@receiver(user_logged_in)
def _bind_session(sender, request, user, **kwargs):
    if request is not None:
        bind_session_to_tenant(request)
