from __future__ import annotations

from collections.abc import Callable
from functools import cache
from typing import Any

from django.http import HttpRequest

from .models import Role

# The roles whose people work in the Wagtail admin: agency admins edit their listings, network
# admins the directory, the dashboard and the access log.
ADMIN_ROLES = frozenset({Role.AGENCY_ADMIN, Role.NETWORK_ADMIN})


def tenant(request: HttpRequest) -> dict[str, Any]:
    """The acting tenant for templates (navigation, organization switcher), and whether the
    header links to the Wagtail admin (``may_use_admin``)."""
    membership = getattr(request, "membership", None)
    user = getattr(request, "user", None)

    @cache
    def may_use_admin() -> bool:
        """Acting in an admin role (or a superuser), and let in by the admin: an agency admin
        whose agency has no listing yet has nothing there. Asked only where the header is
        drawn, and only of those roles: nobody else pays a query for it."""
        if user is None or not user.is_authenticated:
            return False
        if not user.is_superuser and (membership is None or membership.role not in ADMIN_ROLES):
            return False
        return bool(user.has_perm("wagtailadmin.access_admin"))

    admin: Callable[[], bool] = may_use_admin
    return {
        "may_use_admin": admin,
        "current_network": getattr(request, "network", None),
        "current_organization": getattr(request, "organization", None),
        "current_membership": membership,
        "my_memberships": getattr(request, "memberships", []),
    }
