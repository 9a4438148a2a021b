"""Two-factor sign-in pages: the overview, enrolling an authenticator app (QR code and secret),
the code asked after the password, and new recovery codes (shown once)."""

from __future__ import annotations

from urllib.parse import urlencode, urlsplit

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import redirect, render, resolve_url
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from .. import two_factor
from ..models import User

PENDING_DEVICE_SESSION_KEY = "handoff_two_factor_pending"


def _user(request: HttpRequest) -> User:
    return request.user  # type: ignore[return-value]


def _verified(request: HttpRequest) -> bool:
    return bool(request.user.is_verified())  # type: ignore[union-attr]


def _with_next(name: str, target: str) -> str:
    return f"{reverse(name)}?{urlencode({'next': target})}"


def _next_url(request: HttpRequest) -> str:
    """Where to go after verifying: ``next`` when it is a page of this site, else the default.

    Only a path from the root (or a URL of this host) is taken: a bare word such as ``abc`` is
    neither resolved as a view name nor followed relative to this page."""
    target = request.POST.get("next") or request.GET.get("next") or ""
    if (
        target
        and url_has_allowed_host_and_scheme(
            target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
        )
        and urlsplit(target).path.startswith("/")
    ):
        return target
    return resolve_url(settings.LOGIN_REDIRECT_URL)


@login_required
def two_factor_overview(request: HttpRequest) -> HttpResponse:
    user = _user(request)
    return render(
        request,
        "network/two_factor/overview.html",
        {
            "authenticator": two_factor.authenticator_for(user=user),
            "codes_left": two_factor.recovery_codes_left(user=user),
            "required": two_factor.two_factor_required(user=user),
            "verified": _verified(request),
        },
    )


@login_required
@require_http_methods(["GET", "POST"])
def two_factor_setup(request: HttpRequest) -> HttpResponse:
    """Enrol an authenticator app. Someone who already has one must verify it first: a password
    alone never replaces a second factor."""
    user = _user(request)
    if two_factor.two_factor_enrolled(user=user) and not _verified(request):
        return redirect(_with_next("two_factor:verify", reverse("two_factor:setup")))
    device = two_factor.authenticator_pending(
        user=user, device_id=request.session.get(PENDING_DEVICE_SESSION_KEY)
    )
    error = ""
    status = 200
    if request.method == "POST" and device is not None:
        try:
            codes = two_factor.authenticator_confirm(
                request=request, device=device, code=request.POST.get("code", "")
            )
        except two_factor.CodeInvalid:
            error = _("That code is not right. Type the code your app shows now.")
            status = 400
        else:
            del request.session[PENDING_DEVICE_SESSION_KEY]
            return render(
                request,
                "network/two_factor/recovery_codes.html",
                {"codes": codes, "next": _next_url(request)},
            )
    elif request.method == "POST":
        error = _("The set-up expired. Scan the new code below.")
        status = 400
    if device is None:
        device = two_factor.authenticator_start(user=user)
        request.session[PENDING_DEVICE_SESSION_KEY] = device.pk
    return render(
        request,
        "network/two_factor/setup.html",
        {
            "qr_svg": two_factor.authenticator_qr_svg(device=device),
            "secret": two_factor.authenticator_secret(device=device),
            "error": error,
            "next": request.POST.get("next") or request.GET.get("next", ""),
            "required": two_factor.two_factor_required(user=user),
        },
        status=status,
    )


@login_required
@require_http_methods(["GET", "POST"])
def two_factor_verify(request: HttpRequest) -> HttpResponse:
    """The code asked after the password (an authenticator code or a recovery code)."""
    user = _user(request)
    if not two_factor.two_factor_enrolled(user=user):
        return redirect(_with_next("two_factor:setup", _next_url(request)))
    if _verified(request):
        return HttpResponseRedirect(_next_url(request))
    error = ""
    status = 200
    if request.method == "POST":
        try:
            two_factor.two_factor_verify(request=request, code=request.POST.get("code", ""))
        except two_factor.CodeInvalid:
            error = _(
                "That code is not right. Type the code your app shows now, or a recovery code."
            )
            status = 400
        else:
            return HttpResponseRedirect(_next_url(request))
    return render(
        request,
        "network/two_factor/verify.html",
        {"error": error, "next": request.POST.get("next") or request.GET.get("next", "")},
        status=status,
    )


@login_required
@require_POST
def recovery_codes_new(request: HttpRequest) -> HttpResponse:
    """A new set of recovery codes (the old ones stop working), shown once; only in a verified
    session."""
    if not _verified(request):
        return redirect(_with_next("two_factor:verify", reverse("two_factor:overview")))
    codes = two_factor.recovery_codes_issue(user=_user(request))
    return render(
        request,
        "network/two_factor/recovery_codes.html",
        {"codes": codes, "next": reverse("two_factor:overview")},
    )
