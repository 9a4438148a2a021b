"""Two-factor sign-in (django-otp): who must use it, enrolling an authenticator app, recovery
codes and verifying a code after the password.

An authenticator app is a ``TOTPDevice``; the recovery codes are the tokens of one
``StaticDevice`` (each accepted once). A session is verified when django-otp's session key names
one of the user's confirmed devices (``request.user.is_verified()``).
"""

from __future__ import annotations

from base64 import b32encode
from io import BytesIO

import django_otp
import qrcode
import qrcode.image.svg
from django.conf import settings
from django.db import transaction
from django.http import HttpRequest
from django_otp.models import Device
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from .models import Membership, Role, User

# The roles whose holders cannot sign in without a second factor (besides superusers).
TWO_FACTOR_ROLES: frozenset[str] = frozenset(
    {Role.NETWORK_ADMIN, Role.CLINIC_ADMIN, Role.AGENCY_ADMIN}
)
# Set at sign-in: whether the person had enrolled (then they verify too, whatever their role).
ENROLLED_SESSION_KEY = "handoff_two_factor_enrolled"
AUTHENTICATOR_NAME = "Authenticator app"
RECOVERY_NAME = "Recovery codes"


class CodeInvalid(Exception):
    """The code matched none of the user's devices (or they are throttled after failures)."""


def two_factor_required(*, user: User, memberships: list[Membership] | None = None) -> bool:
    """Whether ``user`` must verify a second factor: superusers and admins of a network or of an
    organization, while ``HANDOFF_TWO_FACTOR_REQUIRED`` is on (production forces it).
    ``memberships``: the user's memberships when the caller has them (saves the query)."""
    if not settings.HANDOFF_TWO_FACTOR_REQUIRED or not user.is_authenticated:
        return False
    if user.is_superuser:
        return True
    if memberships is not None:
        return any(m.role in TWO_FACTOR_ROLES for m in memberships)
    return Membership.objects.filter(user=user, role__in=TWO_FACTOR_ROLES).exists()


def two_factor_due(*, request: HttpRequest, memberships: list[Membership] | None) -> bool:
    """Whether this signed-in session must be verified before it opens anything: the person's
    role requires it, or they enrolled (anyone may, and then a password alone is not enough)."""
    user: User = request.user  # type: ignore[assignment]
    return bool(request.session.get(ENROLLED_SESSION_KEY)) or two_factor_required(
        user=user, memberships=memberships
    )


def enrolment_note_at_sign_in(
    sender: object, request: HttpRequest, user: User, **_: object
) -> None:
    """Remembers in the new session whether ``user`` enrolled (one query at sign-in, none per
    page)."""
    if hasattr(request, "session"):
        request.session[ENROLLED_SESSION_KEY] = two_factor_enrolled(user=user)


def authenticator_for(*, user: User) -> TOTPDevice | None:
    """The user's confirmed authenticator app, if they enrolled one."""
    return TOTPDevice.objects.filter(user=user, confirmed=True).first()


def recovery_codes_left(*, user: User) -> int:
    """How many unused recovery codes the user still has."""
    return StaticToken.objects.filter(device__user=user, device__confirmed=True).count()


def two_factor_enrolled(*, user: User) -> bool:
    """Whether ``user`` has a second factor to verify (an authenticator or recovery codes)."""
    return authenticator_for(user=user) is not None or recovery_codes_left(user=user) > 0


@transaction.atomic
def authenticator_start(*, user: User) -> TOTPDevice:
    """A new, unconfirmed authenticator for ``user`` (replacing an earlier unconfirmed one); it
    counts only once a code from it is confirmed (``authenticator_confirm``)."""
    TOTPDevice.objects.filter(user=user, confirmed=False).delete()
    return TOTPDevice.objects.create(user=user, name=AUTHENTICATOR_NAME, confirmed=False)


def authenticator_pending(*, user: User, device_id: int | None) -> TOTPDevice | None:
    """The unconfirmed authenticator ``device_id`` of ``user``, if it still exists."""
    if device_id is None:
        return None
    return TOTPDevice.objects.filter(user=user, pk=device_id, confirmed=False).first()


def authenticator_confirm(*, request: HttpRequest, device: TOTPDevice, code: str) -> list[str]:
    """Confirm ``device`` with a code it generated: it replaces the user's earlier authenticator,
    the session counts as verified, and a fresh set of recovery codes is issued and returned
    (shown once). Raises ``CodeInvalid`` when the code is wrong (the failure is counted)."""
    # Not inside the transaction below: a wrong code's throttling count must be kept.
    if not device.verify_token(code_normalize(code)):
        raise CodeInvalid
    with transaction.atomic():
        TOTPDevice.objects.filter(user=device.user).exclude(pk=device.pk).delete()
        device.confirmed = True
        device.save(update_fields=["confirmed"])
        django_otp.login(request, device)
        request.session[ENROLLED_SESSION_KEY] = True
        return recovery_codes_issue(user=device.user)


@transaction.atomic
def recovery_codes_issue(*, user: User) -> list[str]:
    """A new set of recovery codes for ``user`` (the old ones stop working); each signs in once.
    The caller shows them once: only they are returned, nothing shows them again."""
    device, _ = StaticDevice.objects.get_or_create(
        user=user, name=RECOVERY_NAME, defaults={"confirmed": True}
    )
    device.token_set.all().delete()
    codes = [StaticToken.random_token() for _ in range(settings.HANDOFF_RECOVERY_CODE_COUNT)]
    StaticToken.objects.bulk_create(StaticToken(device=device, token=code) for code in codes)
    return codes


def code_normalize(code: str) -> str:
    """What the person typed, without spaces or dashes, lower case (recovery codes are lower
    case base32; authenticator codes are digits)."""
    return "".join(code.split()).replace("-", "").lower()[:32]


def two_factor_verify(*, request: HttpRequest, code: str) -> Device:
    """Mark this session verified with an authenticator code or an unused recovery code (which
    is then spent). Raises ``CodeInvalid`` otherwise; repeated failures slow the device down
    (django-otp's throttling)."""
    user: User = request.user  # type: ignore[assignment]
    token = code_normalize(code)
    if token:
        # Locked rows: two requests cannot spend one code twice. The failures' counts are
        # committed with the transaction (the exception is raised after it).
        with transaction.atomic():
            devices: list[Device] = [
                *TOTPDevice.objects.select_for_update().filter(user=user, confirmed=True),
                *StaticDevice.objects.select_for_update().filter(user=user, confirmed=True),
            ]
            verified = next((device for device in devices if device.verify_token(token)), None)
        if verified is not None:
            django_otp.login(request, verified)
            return verified
    raise CodeInvalid


def authenticator_qr_svg(*, device: TOTPDevice) -> str:
    """The device's otpauth:// address as an inline SVG QR code (drawn here: no request leaves
    the server)."""
    image = qrcode.make(device.config_url, image_factory=qrcode.image.svg.SvgPathImage)
    buffer = BytesIO()
    image.save(buffer)
    svg = buffer.getvalue().decode()
    # Drop the XML declaration: the SVG is placed inside the page.
    return svg[svg.index("<svg") :]


def authenticator_secret(*, device: TOTPDevice) -> str:
    """The device's secret as base32 text (what an app asks for when typed in by hand), in
    groups of four."""
    secret = b32encode(device.bin_key).decode().rstrip("=")
    return " ".join(secret[i : i + 4] for i in range(0, len(secret), 4))
