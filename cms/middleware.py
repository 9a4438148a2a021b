"""Sign-in protections that apply to every page: the idle timeout, the password-reset throttle and
the Content-Security-Policy (issue 13 §5)."""

from __future__ import annotations

import hashlib
from collections.abc import Callable

from axes.helpers import get_client_ip_address
from csp.middleware import CSPMiddleware, PolicyParts
from django.conf import settings
from django.contrib import messages
from django.contrib.auth import logout
from django.contrib.auth.views import redirect_to_login
from django.core.cache import cache
from django.http import HttpRequest, HttpResponse, HttpResponseBase
from django.shortcuts import render
from django.urls import Resolver404, resolve
from django.utils import timezone
from django.utils.translation import gettext as _

LAST_ACTIVITY_SESSION_KEY = "handoff_last_activity"
# A session is written at most this often just to record activity (not on every request).
ACTIVITY_RESOLUTION_SECONDS = 60
PASSWORD_RESET_URL_NAMES = frozenset({"password_reset", "wagtailadmin_password_reset"})


def sign_in_url_for(path: str) -> str:
    """The sign-in page (URL or URL name) that leads back to ``path``: the Wagtail admin's for
    admin pages, the workspace's for the rest."""
    if path.startswith(settings.HANDOFF_CSP_ADMIN_PREFIX):
        return "wagtailadmin_login"
    return str(settings.LOGIN_URL)


def activity_record_at_sign_in(sender: object, request: HttpRequest, **kwargs: object) -> None:
    """Signing in counts as activity (so the first page after it does not write the session)."""
    if hasattr(request, "session"):
        request.session[LAST_ACTIVITY_SESSION_KEY] = int(timezone.now().timestamp())


class IdleTimeoutMiddleware:
    """Signs out a session left unused for ``HANDOFF_IDLE_TIMEOUT_SECONDS``.

    ``SESSION_COOKIE_AGE`` bounds a session's whole life; this bounds the time between two
    requests, so a workstation left signed in does not stay open for hours. Needs the session,
    the user and messages (it runs after MessageMiddleware).
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if not request.user.is_authenticated:
            return self.get_response(request)
        now = int(timezone.now().timestamp())
        last = request.session.get(LAST_ACTIVITY_SESSION_KEY)
        if isinstance(last, int) and now - last > settings.HANDOFF_IDLE_TIMEOUT_SECONDS:
            logout(request)
            minutes = max(1, settings.HANDOFF_IDLE_TIMEOUT_SECONDS // 60)
            messages.info(
                request,
                _("You were signed out after %(minutes)d minutes without activity.")
                % {"minutes": minutes},
            )
            return redirect_to_login(request.get_full_path(), sign_in_url_for(request.path_info))
        if not isinstance(last, int) or now - last >= ACTIVITY_RESOLUTION_SECONDS:
            request.session[LAST_ACTIVITY_SESSION_KEY] = now
        return self.get_response(request)


class PasswordResetThrottleMiddleware:
    """Limits password-reset requests per client address and per e-mail address (the workspace's
    form and the Wagtail admin's): beyond the limit the form answers 429 and sends nothing, so
    the form can be used neither to flood someone's mailbox nor to probe addresses quickly."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.method == "POST" and self._is_password_reset(request):
            email = request.POST.get("email", "").strip().lower()
            keys = [f"password-reset:ip:{get_client_ip_address(request)}"]
            if email:
                digest = hashlib.sha256(email.encode()).hexdigest()
                keys.append(f"password-reset:email:{digest}")
            if any(self._count(key) > settings.HANDOFF_PASSWORD_RESET_LIMIT for key in keys):
                return render(request, "registration/password_reset_throttled.html", status=429)
        return self.get_response(request)

    @staticmethod
    def _is_password_reset(request: HttpRequest) -> bool:
        try:
            return resolve(request.path_info).url_name in PASSWORD_RESET_URL_NAMES
        except Resolver404:
            return False

    @staticmethod
    def _count(key: str) -> int:
        """This request counted in ``key``'s window; the count so far, this one included."""
        window = settings.HANDOFF_PASSWORD_RESET_WINDOW_SECONDS
        if cache.add(key, 1, timeout=window):
            return 1
        try:
            return cache.incr(key)
        except ValueError:  # expired between add and incr
            cache.set(key, 1, timeout=window)
            return 1


class ContentSecurityPolicyMiddleware(CSPMiddleware):
    """django-csp's policy everywhere; the Wagtail admin adds ``HANDOFF_CSP_ADMIN_UPDATE`` (it
    still needs inline scripts and styles). A view's own ``@csp_update`` still applies."""

    def get_policy_parts(
        self, request: HttpRequest, response: HttpResponseBase, report_only: bool = False
    ) -> PolicyParts:
        parts = super().get_policy_parts(request, response, report_only)
        if not report_only and request.path_info.startswith(settings.HANDOFF_CSP_ADMIN_PREFIX):
            update = {
                key: list(values) for key, values in settings.HANDOFF_CSP_ADMIN_UPDATE.items()
            }
            for key, values in (parts.update or {}).items():
                extra = [values] if isinstance(values, str) else list(values or [])
                update[key] = [*update.get(key, []), *extra]
            parts.update = update
        return parts
