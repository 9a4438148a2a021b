"""Who may call the referral API: a workspace member, acting for the organization chosen in the
session (the same session and CSRF protection as the workspace pages)."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import PermissionDenied
from django.http import HttpRequest
from django.utils.translation import gettext as _
from ninja.security import SessionAuth

from network.middleware import TenantRequest
from network.models import Organization


class WorkspaceSession(SessionAuth):
    """Django's session (cookie ``sessionid``), CSRF-checked on every change."""

    def authenticate(self, request: HttpRequest, key: str | None) -> Any:
        user = super().authenticate(request, key)
        if user is None:
            return None
        if getattr(request, "membership", None) is None:
            # Signed in but a member of nothing (or the platform operator): not allowed.
            raise PermissionDenied(_("Your account is not a member of any organization yet."))
        return user


def acting_organization(request: TenantRequest) -> Organization:
    """The organization the caller acts for; 403 for a network admin acting for none."""
    if request.organization is None:
        raise PermissionDenied(_("Choose one of your organizations first."))
    return request.organization
