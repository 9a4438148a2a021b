"""Sign-in fit for health data: lockout after wrong passwords, throttled password resets, the
idle timeout, the Content-Security-Policy and no third-party requests (issue 13 §5)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from datetime import timedelta
from unittest import mock

import pytest
from django.core import mail
from django.test import Client as HttpClient
from django.utils import timezone

from cms.middleware import LAST_ACTIVITY_SESSION_KEY
from network.models import Role
from tests.cms.support import ROOT, STRONG_KEY, manage_run

PASSWORD = "pw"  # as tests.network.factories.UserFactory sets it
SIGN_IN_FORMS = {"workspace": "/accounts/login/", "admin": "/admin/login/"}
RESET_FORMS = {"workspace": "/accounts/password-reset/", "admin": "/admin/password_reset/"}


def _signed_in(http: HttpClient) -> bool:
    return "_auth_user_id" in http.session


@pytest.mark.django_db
@pytest.mark.parametrize("form", SIGN_IN_FORMS)
def test_five_wrong_passwords_lock_the_account_even_against_the_right_one(
    client, tenant_a, settings, form
):
    user = tenant_a.users[Role.CLINIC_STAFF]
    url = SIGN_IN_FORMS[form]
    for attempt in range(settings.AXES_FAILURE_LIMIT - 1):
        wrong = client.post(url, {"username": user.username, "password": f"guess-{attempt}"})
        assert wrong.status_code == 200, attempt  # the form again, with its error
    locked = client.post(url, {"username": user.username, "password": "guess-last"})
    assert locked.status_code == 429
    assert "Too many sign-in attempts" in locked.content.decode()

    right = client.post(url, {"username": user.username, "password": PASSWORD})
    assert right.status_code == 429
    assert not _signed_in(client)
    # The lock is on this account from this address: someone else elsewhere is not locked out.
    elsewhere = HttpClient(REMOTE_ADDR="203.0.113.9")
    assert elsewhere.post(url, {"username": user.username, "password": PASSWORD}).status_code == 302
    other = tenant_a.users[Role.AGENCY_STAFF]
    assert client.post(url, {"username": other.username, "password": PASSWORD}).status_code == 302


@pytest.mark.django_db
def test_the_lock_ends_after_the_cool_off(client, tenant_a, settings):
    user = tenant_a.users[Role.CLINIC_STAFF]
    for attempt in range(settings.AXES_FAILURE_LIMIT):
        client.post("/accounts/login/", {"username": user.username, "password": f"x{attempt}"})
    later = timezone.now() + settings.AXES_COOLOFF_TIME + timedelta(seconds=1)
    with mock.patch("axes.handlers.proxy.now", return_value=later):  # axes' clock
        right = client.post("/accounts/login/", {"username": user.username, "password": PASSWORD})
    assert right.status_code == 302
    assert _signed_in(client)


@pytest.mark.django_db
@pytest.mark.parametrize("form", RESET_FORMS)
def test_password_reset_is_throttled_per_address(client, tenant_a, settings, form):
    user = tenant_a.users[Role.CLINIC_STAFF]
    user.email = "staff@example.org"
    user.save(update_fields=["email"])
    url = RESET_FORMS[form]
    for _ in range(settings.HANDOFF_PASSWORD_RESET_LIMIT):
        assert client.post(url, {"email": user.email}).status_code == 302
    sent = len(mail.outbox)
    assert sent == settings.HANDOFF_PASSWORD_RESET_LIMIT
    refused = client.post(url, {"email": user.email})
    assert refused.status_code == 429
    assert "No e-mail was sent" in refused.content.decode()
    assert len(mail.outbox) == sent
    # Other addresses from this client are refused too (per client address).
    assert client.post(url, {"email": "someone@example.org"}).status_code == 429


@pytest.mark.django_db
def test_password_reset_is_throttled_per_email_across_addresses(tenant_a, settings):
    user = tenant_a.users[Role.CLINIC_STAFF]
    user.email = "staff@example.org"
    user.save(update_fields=["email"])
    for n in range(settings.HANDOFF_PASSWORD_RESET_LIMIT):
        http = HttpClient(REMOTE_ADDR=f"198.51.100.{n}")
        assert http.post("/accounts/password-reset/", {"email": user.email}).status_code == 302
    late = HttpClient(REMOTE_ADDR="198.51.100.200")
    assert late.post("/admin/password_reset/", {"email": user.email}).status_code == 429
    assert len(mail.outbox) == settings.HANDOFF_PASSWORD_RESET_LIMIT


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("path", "sign_in"), [("/workspace/", "/accounts/login/"), ("/admin/", "/admin/login/")]
)
def test_an_idle_session_is_signed_out(client, tenant_a, settings, path, sign_in):
    user = tenant_a.users[Role.NETWORK_ADMIN]
    client.force_login(user)
    assert client.get(path).status_code == 200
    # The clock moves past the idle timeout with no request in between.
    later = timezone.now() + timedelta(seconds=settings.HANDOFF_IDLE_TIMEOUT_SECONDS + 5)
    with mock.patch("cms.middleware.timezone.now", return_value=later):
        response = client.get(path)
    assert response.status_code == 302
    assert response["Location"].startswith(sign_in + "?next=")
    assert not _signed_in(client)
    page = client.get(sign_in)
    assert "signed out after 30 minutes without activity" in page.content.decode()


@pytest.mark.django_db
def test_activity_keeps_the_session_open(client, tenant_a, settings):
    client.force_login(tenant_a.users[Role.CLINIC_STAFF])
    step = timedelta(seconds=settings.HANDOFF_IDLE_TIMEOUT_SECONDS - 60)
    now = timezone.now()
    for n in range(1, 4):  # three requests, each within the timeout of the one before
        with mock.patch("cms.middleware.timezone.now", return_value=now + n * step):
            assert client.get("/workspace/").status_code == 200
    assert client.session[LAST_ACTIVITY_SESSION_KEY] == int((now + 3 * step).timestamp())


@pytest.mark.django_db
def test_the_idle_timeout_is_configurable(client, tenant_a, settings):
    settings.HANDOFF_IDLE_TIMEOUT_SECONDS = 120
    client.force_login(tenant_a.users[Role.CLINIC_STAFF])
    later = timezone.now() + timedelta(seconds=180)
    with mock.patch("cms.middleware.timezone.now", return_value=later):
        assert client.get("/workspace/").status_code == 302


INLINE_HANDLER = re.compile(r"<[^>]+\son[a-z]+\s*=", re.IGNORECASE)
INLINE_SCRIPT = re.compile(r"<script(?![^>]*\bsrc=)(?![^>]*type=\"application/json\")[^>]*>")


MAIN_PAGES: list[tuple[Role | None, str]] = [
    (None, "/"),
    (None, "/accounts/login/"),
    (None, "/accounts/password-reset/"),
    (None, "/admin/login/"),
    (Role.CLINIC_STAFF, "/workspace/"),
    (Role.CLINIC_STAFF, "/workspace/clients/"),
    (Role.CLINIC_STAFF, "/workspace/search/"),
    (Role.CLINIC_STAFF, "/workspace/referrals/sent/"),
    (Role.AGENCY_STAFF, "/workspace/inbox/"),
    (Role.AGENCY_STAFF, "/workspace/listings/"),
    (Role.CLINIC_ADMIN, "/workspace/organizations/"),
    (Role.CLINIC_ADMIN, "/accounts/two-factor/"),
    (Role.CLINIC_ADMIN, "/accounts/two-factor/set-up/"),
    (Role.NETWORK_ADMIN, "/admin/"),
    (Role.NETWORK_ADMIN, "/admin/dashboard/"),
    (Role.NETWORK_ADMIN, "/admin/pages/"),
    # Wagtail's choosers, date pickers and inline panels (their inline scripts are replaced).
    (Role.NETWORK_ADMIN, "/admin/snippets/consent/datasharingagreement/add/"),
    (Role.NETWORK_ADMIN, "/admin/documents/multiple/add/"),
    (Role.NETWORK_ADMIN, "/admin/pages/{home}/edit/"),
]


@pytest.mark.django_db
def test_every_main_page_sends_a_policy_without_inline_script(client, tenant_a):
    host = tenant_a.network.site.hostname
    for role, path in MAIN_PAGES:
        http = HttpClient(HTTP_HOST=host)
        if role is not None:
            http.force_login(tenant_a.users[role])
        path = path.format(home=tenant_a.network.site.root_page_id)
        response = http.get(path, follow=True)
        assert response.status_code == 200, (role, path, response.redirect_chain)
        policy = response["Content-Security-Policy"]
        assert "default-src 'self'" in policy, path
        assert "object-src 'none'" in policy, path
        body = response.content.decode()
        script_src = next(p for p in policy.split(";") if p.strip().startswith("script-src"))
        assert "unsafe" not in script_src, path
        assert not INLINE_SCRIPT.search(body), (path, INLINE_SCRIPT.search(body))
        assert not INLINE_HANDLER.search(body), (path, INLINE_HANDLER.search(body))
        if not path.startswith("/admin/"):  # the Wagtail admin still writes inline styles
            assert 'style="' not in body, path


def test_the_map_tiles_host_is_allowed_for_images_when_set():
    result = subprocess.run(
        [
            sys.executable,
            "manage.py",
            "shell",
            "-c",
            "from django.conf import settings; "
            "print(settings.CONTENT_SECURITY_POLICY['DIRECTIVES']['img-src'])",
        ],
        cwd=ROOT,
        env={
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "cms.settings.test",
            "SEARCH_MAP_TILE_URL": "https://{s}.tile.example.org/{z}/{x}/{y}.png",
        },
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "https://*.tile.example.org" in result.stdout


@pytest.mark.django_db
def test_admin_pages_ask_nothing_of_gravatar(client, tenant_a):
    admin = tenant_a.users[Role.NETWORK_ADMIN]
    admin.email = "admin@example.org"
    admin.save(update_fields=["email"])
    client.force_login(admin)
    for path in ("/admin/", "/admin/account/", "/admin/pages/"):
        body = client.get(path).content.decode()
        assert "gravatar" not in body.lower(), path


def test_production_cannot_turn_two_factor_sign_in_off():
    env = {
        "SECRET_KEY": STRONG_KEY,
        "ALLOWED_HOSTS": "x.org",
        "CELERY_BROKER_URL": "redis://127.0.0.1:6379/0",
        "WAGTAILADMIN_BASE_URL": "https://x.org",
    }
    show = "from django.conf import settings; print(settings.HANDOFF_TWO_FACTOR_REQUIRED)"
    default = manage_run(["shell", "-c", show], **env)
    assert default.returncode == 0, default.stderr
    assert default.stdout.strip().splitlines()[-1] == "True"
    refused = manage_run(["shell", "-c", show], HANDOFF_TWO_FACTOR_REQUIRED="false", **env)
    assert refused.returncode != 0
    assert "HANDOFF_TWO_FACTOR_REQUIRED cannot be turned off in production" in refused.stderr


def test_no_template_of_ours_has_inline_script_or_handlers():
    """Every template of the project's apps: scripts come from static files, no on…= handler."""
    templates = [
        path
        for app in ("cms", "network", "directory", "consent", "search", "referrals")
        for path in (ROOT / app).rglob("templates/**/*.html")
    ]
    assert len(templates) > 40
    found = [
        f"{path.relative_to(ROOT)}: {match.group(0)}"
        for path in templates
        for pattern in (INLINE_SCRIPT, INLINE_HANDLER)
        for match in pattern.finditer(path.read_text())
    ]
    assert found == []
