"""Two-factor sign-in: required for superusers, network admins and organization admins (in the
workspace and the Wagtail admin), open to everyone; enrolling, verifying, recovery codes."""

from __future__ import annotations

import re

import pytest
from django.test import Client as HttpClient
from django.urls import reverse
from django_otp.oath import totp
from django_otp.plugins.otp_static.models import StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from network.models import Role, User
from network.two_factor import TWO_FACTOR_ROLES
from tests.conftest import force_login_unverified
from tests.network.factories import Tenant

PASSWORD = "pw"  # as tests.network.factories.UserFactory sets it
REQUIRED = sorted(TWO_FACTOR_ROLES)
NOT_REQUIRED = sorted(set(Role) - TWO_FACTOR_ROLES)


def code_for(device: TOTPDevice, steps_ahead: int = 0) -> str:
    """The code the authenticator shows now (or ``steps_ahead`` periods later)."""
    device.refresh_from_db()
    return f"{totp(device.bin_key, drift=steps_ahead):06d}"


def sign_in(http: HttpClient, user: User) -> None:
    """The password step, through the workspace's sign-in form."""
    response = http.post(reverse("login"), {"username": user.username, "password": PASSWORD})
    assert response.status_code == 302, response.content.decode()[:500]


def enrolled(user: User) -> TOTPDevice:
    return TOTPDevice.objects.create(user=user, name="phone", confirmed=True)


@pytest.mark.django_db
@pytest.mark.parametrize("role", REQUIRED)
@pytest.mark.parametrize("path", ["/workspace/", "/admin/", "/workspace/organizations/"])
def test_admin_roles_without_a_second_factor_are_sent_to_enrol(client, tenant_a, role, path):
    force_login_unverified(client, tenant_a.users[role])
    response = client.get(path)
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("two_factor:setup") + "?next=")
    assert tenant_a.network.name not in response.content.decode()


@pytest.fixture
def no_throttle(settings) -> None:
    """A wrong code, then the right one at once (django-otp otherwise waits a second)."""
    settings.OTP_TOTP_THROTTLE_FACTOR = 0
    settings.OTP_STATIC_THROTTLE_FACTOR = 0


@pytest.mark.django_db
@pytest.mark.usefixtures("no_throttle")
@pytest.mark.parametrize("role", REQUIRED)
@pytest.mark.parametrize("path", ["/workspace/", "/admin/"])
def test_enrolled_admin_roles_are_asked_their_code_and_then_get_in(client, tenant_a, role, path):
    user = tenant_a.users[role]
    device = enrolled(user)
    sign_in(client, user)
    response = client.get(path)
    assert response.status_code == 302
    assert response["Location"] == f"{reverse('two_factor:verify')}?next={path.replace('/', '%2F')}"
    wrong = client.post(reverse("two_factor:verify"), {"code": "000000", "next": path})
    assert wrong.status_code == 400
    assert "That code is not right" in wrong.content.decode()
    assert client.get(path).status_code == 302  # still locked
    right = client.post(reverse("two_factor:verify"), {"code": code_for(device), "next": path})
    assert right.status_code == 302
    assert right["Location"] == path
    after = client.get(path)
    if path == "/admin/" and role != Role.NETWORK_ADMIN:  # no Wagtail admin for their role
        assert after["Location"].startswith(reverse("wagtailadmin_login"))
    else:
        assert after.status_code == 200


@pytest.mark.django_db
@pytest.mark.parametrize("path", ["/workspace/", "/admin/"])
def test_superusers_need_a_second_factor(client, superuser, path):
    force_login_unverified(client, superuser)
    response = client.get(path)
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("two_factor:setup"))


@pytest.mark.django_db
@pytest.mark.parametrize("role", NOT_REQUIRED)
def test_staff_roles_sign_in_with_a_password_alone(client, tenant_a, role):
    sign_in(client, tenant_a.users[role])
    assert client.get("/workspace/").status_code == 200


@pytest.mark.django_db
def test_staff_who_enrolled_must_verify_too(client, tenant_a):
    user = tenant_a.users[Role.CLINIC_STAFF]
    device = enrolled(user)
    sign_in(client, user)
    response = client.get("/workspace/")
    assert response["Location"].startswith(reverse("two_factor:verify"))
    client.post(reverse("two_factor:verify"), {"code": code_for(device)})
    assert client.get("/workspace/").status_code == 200


@pytest.mark.django_db
def test_requirement_switched_off_lets_admins_in_with_a_password(client, tenant_a, settings):
    settings.HANDOFF_TWO_FACTOR_REQUIRED = False
    sign_in(client, tenant_a.users[Role.NETWORK_ADMIN])
    assert client.get("/workspace/").status_code == 200


@pytest.mark.django_db
def test_wrong_codes_slow_down_the_next_tries(client, tenant_a):
    user = tenant_a.users[Role.NETWORK_ADMIN]
    device = enrolled(user)
    sign_in(client, user)
    assert client.post(reverse("two_factor:verify"), {"code": "000000"}).status_code == 400
    # Right away, even the right code is refused (django-otp's throttling).
    assert client.post(reverse("two_factor:verify"), {"code": code_for(device)}).status_code == 400
    assert client.get("/workspace/").status_code == 302


@pytest.mark.django_db
@pytest.mark.usefixtures("no_throttle")
def test_enrolment_shows_a_qr_code_and_the_key_then_recovery_codes_once(client, tenant_a):
    user = tenant_a.users[Role.CLINIC_ADMIN]
    sign_in(client, user)
    page = client.get(reverse("two_factor:setup"))
    assert page.status_code == 200
    body = page.content.decode()
    assert "<svg" in body
    device = TOTPDevice.objects.get(user=user, confirmed=False)
    secret = re.search(r'<code class="secret">([A-Z2-7 ]+)</code>', body)
    assert secret is not None
    # No request leaves the server for the QR code; no inline script either.
    assert "http" not in body.split("<svg", 1)[1].split("</svg>", 1)[0].replace(
        "http://www.w3.org/2000/svg", ""
    )
    assert client.get("/workspace/").status_code == 302  # not confirmed yet

    wrong = client.post(reverse("two_factor:setup"), {"code": "123"})
    assert wrong.status_code == 400
    assert not TOTPDevice.objects.filter(user=user, confirmed=True).exists()

    done = client.post(reverse("two_factor:setup"), {"code": code_for(device)})
    assert done.status_code == 200
    codes = re.findall(r"<li><code>([a-z2-7]+)</code></li>", done.content.decode())
    assert len(codes) == 10
    assert set(codes) == set(
        StaticToken.objects.filter(device__user=user).values_list("token", flat=True)
    )
    device.refresh_from_db()
    assert device.confirmed
    assert client.get("/workspace/").status_code == 200  # this session is verified
    # The codes are not shown again.
    overview = client.get(reverse("two_factor:overview")).content.decode()
    assert not any(code in overview for code in codes)
    assert "10 unused recovery codes" in overview


@pytest.mark.django_db
def test_a_password_alone_cannot_replace_an_enrolled_authenticator(client, tenant_a):
    user = tenant_a.users[Role.NETWORK_ADMIN]
    enrolled(user)
    sign_in(client, user)
    response = client.get(reverse("two_factor:setup"))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("two_factor:verify"))
    assert not TOTPDevice.objects.filter(user=user, confirmed=False).exists()
    assert client.post(reverse("two_factor:recovery_codes")).status_code == 302
    assert not StaticToken.objects.filter(device__user=user).exists()


@pytest.mark.django_db
def test_a_recovery_code_signs_in_once(tenant_a):
    user = tenant_a.users[Role.AGENCY_ADMIN]
    enrolled(user)
    first = HttpClient()
    first.force_login(user)  # verified with the authenticator: recovery codes need that
    page = first.post(reverse("two_factor:recovery_codes"))
    code = re.findall(r"<li><code>([a-z2-7]+)</code></li>", page.content.decode())[0]

    once = HttpClient()
    sign_in(once, user)
    typed = f"{code[:4].upper()}-{code[4:].upper()}"  # as someone might type it
    assert once.post(reverse("two_factor:verify"), {"code": typed}).status_code == 302
    assert once.get("/workspace/").status_code == 200

    twice = HttpClient()
    sign_in(twice, user)
    assert twice.post(reverse("two_factor:verify"), {"code": code}).status_code == 400
    assert twice.get("/workspace/").status_code == 302
    assert StaticToken.objects.filter(device__user=user).count() == 9


@pytest.mark.django_db
def test_verify_does_not_redirect_off_site(client, tenant_a):
    user = tenant_a.users[Role.NETWORK_ADMIN]
    device = enrolled(user)
    sign_in(client, user)
    response = client.post(
        reverse("two_factor:verify"), {"code": code_for(device), "next": "https://evil.example/"}
    )
    assert response.status_code == 302
    assert response["Location"] == reverse("network:workspace")


@pytest.mark.django_db
def test_the_tests_own_sign_in_passes_two_factor(client, tenant_a: Tenant):
    """tests/conftest.py's force_login marks admin sessions verified (the requirement stays on)."""
    client.force_login(tenant_a.users[Role.NETWORK_ADMIN])
    assert client.get("/workspace/").status_code == 200
    assert client.get("/admin/").status_code == 200
