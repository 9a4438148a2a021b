"""Access to the staff workspace: ``member_required`` (signed in, with a membership)."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpResponse
from django.shortcuts import redirect
from django.utils import timezone
from django.utils.translation import gettext as _

from network import selectors
from network.middleware import TenantRequest

View = Callable[..., HttpResponse]


def member_required(view: View) -> View:
    """Signed in and holding at least one membership; anyone else gets the login page or 403."""

    @login_required
    @wraps(view)
    def wrapper(request: TenantRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if request.membership is None:
            if request.user.is_superuser:  # the platform operator works in the Wagtail admin
                return redirect("wagtailadmin_home")
            if selectors.invitations_pending_for_user(
                user=request.user, now=timezone.now()
            ).exists():
                return redirect("network:invitation_list")
            raise PermissionDenied(
                _(
                    "Your account is not a member of any organization yet. "
                    "Ask your organization's admin to add you."
                )
            )
        return view(request, *args, **kwargs)

    return wrapper
