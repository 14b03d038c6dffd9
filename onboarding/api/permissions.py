from rest_framework.permissions import SAFE_METHODS, BasePermission

from accounts.access import membership_of
from accounts.models import Role

WRITERS = {Role.ADMIN, Role.CSM}


class IsTenantMember(BasePermission):
    """Members of the host's tenant read; admins and CSMs write."""

    def has_permission(self, request, view) -> bool:
        if getattr(request, "tenant", None) is None:
            return False
        membership = membership_of(request._request)
        if membership is None:
            return False
        return request.method in SAFE_METHODS or membership.role in WRITERS
