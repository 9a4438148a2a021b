from __future__ import annotations

import copy
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any, TypeVar, cast

import pytest
import time_machine
from django.conf import settings
from django.core.cache import cache
from django.db import connection, transaction
from django.test import Client as HttpClient
from django.test.utils import CaptureQueriesContext
from django.utils import translation
from django_otp import DEVICE_ID_SESSION_KEY
from django_otp.plugins.otp_totp.models import TOTPDevice

from network import services
from network.middleware import ACTIVE_MEMBERSHIP_SESSION_KEY
from network.models import Membership, Organization, Role, User
from network.two_factor import two_factor_required
from tests.network.factories import Tenant, UserFactory, organization_make, tenant_make
from tests.referrals.factories import SENT_AT, Loop, loop_make_clocked

T = TypeVar("T")


def module_items(request: pytest.FixtureRequest) -> list[pytest.Item]:
    """The tests collected in the module of a module-scoped fixture's ``request``."""
    return [
        item for item in request.session.items if getattr(item, "module", None) is request.module
    ]


def module_world(request: pytest.FixtureRequest, build: Callable[[], T]) -> Iterator[T]:
    """Build once what every test of a module starts from, for a module-scoped fixture.

    The rows are written in a transaction that stays open until the module's last test has run,
    then rolled back; each test's own transaction is a savepoint inside it, rolled back after
    the test, so every test finds the world as built. Hand each test a copy of the objects
    (``world_copy``): a test that changes an instance must not change the next test's. A module
    with a transactional test cannot keep such a world (that test would commit inside it and
    then empty the database): build per test there."""
    transactional = [
        item.name
        for item in module_items(request)
        if (marker := item.get_closest_marker("django_db")) is not None
        and marker.kwargs.get("transaction")
    ]
    if transactional:
        raise pytest.UsageError(
            f"{request.module.__name__} has transactional tests ({', '.join(transactional)}): "
            "a world kept for the module cannot be used there; build it in each test."
        )
    request.getfixturevalue("django_db_setup")
    blocker = request.getfixturevalue("django_db_blocker")
    if any(getattr(block, "_from_testcase", False) for block in connection.atomic_blocks):
        # Asked for with getfixturevalue() once a test had started: built inside that test's
        # transaction, it would be rolled back under the module's feet.
        raise pytest.UsageError(
            f"{request.fixturename} is kept for the module: name it among the arguments of the "
            "test or of a fixture, so that it is built before the test's transaction."
        )
    with blocker.unblock():
        atomic = transaction.atomic()
        atomic.__enter__()
        try:
            world = build()
        except BaseException:
            atomic.__exit__(*sys.exc_info())
            raise
    try:
        yield world
    finally:
        with blocker.unblock():
            transaction.set_rollback(True)
            atomic.__exit__(None, None, None)


def world_copy(world: T) -> T:
    """A test's own copy of a kept world's objects (the same rows, fresh instances)."""
    return copy.deepcopy(world)


@pytest.fixture(autouse=True)
def language_reset() -> Iterator[None]:
    """Each test starts and ends in the site's language: a request in Spanish through the test
    client leaves Spanish active in its thread, and no test may depend on the one before."""
    translation.activate(settings.LANGUAGE_CODE)
    yield
    translation.activate(settings.LANGUAGE_CODE)


@pytest.fixture(autouse=True)
def cache_empty() -> None:
    """Each test starts with an empty cache (dashboard snapshots, rate limits…): the database
    is rolled back between tests, and a cached value must not outlive the rows it came from."""
    cache.clear()


# The test client's own force_login: signs in with the password step only.
force_login_unverified = HttpClient.force_login


def login_verified(http: HttpClient, user: User, backend: str | None = None) -> None:
    """Sign in as ``user`` as after both steps: someone who must use two-factor sign-in gets an
    authenticator (made here if they have none) and a session verified with it."""
    force_login_unverified(http, user, backend)
    if two_factor_required(user=user):
        device = TOTPDevice.objects.filter(user=user, confirmed=True).first()
        if device is None:
            device = TOTPDevice.objects.create(user=user, name="test", confirmed=True)
        session = http.session
        session[DEVICE_ID_SESSION_KEY] = device.persistent_id
        session.save()


@pytest.fixture(autouse=True)
def site_network_read_each_request(
    request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Production keeps the host's network per process (``network.middleware.site_network``);
    here it is read on every request, so that a test's query count does not depend on whether
    an earlier request of the same process found it first. The tests of the keeping are marked
    ``site_networks_kept``."""
    if request.node.get_closest_marker("site_networks_kept") is None:
        from network import middleware

        monkeypatch.setattr(middleware, "generation", lambda name: "")


@pytest.fixture(autouse=True)
def force_login_verified(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every test's ``client.force_login`` passes two-factor sign-in (the requirement stays on);
    the tests of two-factor sign-in call ``force_login_unverified``."""
    monkeypatch.setattr(HttpClient, "force_login", login_verified)


def act_as(http: HttpClient, user: User, organization: Organization | None = None) -> HttpClient:
    """Sign ``http`` in as ``user`` acting for ``organization`` (their membership there; None:
    their network-admin membership), as after both sign-in steps. Returns ``http``."""
    http.force_login(user)
    session = http.session
    session[ACTIVE_MEMBERSHIP_SESSION_KEY] = Membership.objects.get(
        user=user, organization=organization
    ).pk
    session.save()
    return http


# --- the referral loop's cast (tests/referrals/factories.py), kept for each module ------------


def _loop_build(request: pytest.FixtureRequest, label: str) -> Loop:
    """The cast on the clock the module's tests run on: the loop's fixed clock where they use
    ``clock_before_sent_at``, else the real one (a cast built on the fixed clock would be a
    year old, its consent expired, for a test on the real clock a year from now)."""
    clocked = any(
        "clock_before_sent_at" in getattr(item, "fixturenames", ())
        for item in module_items(request)
    )
    return loop_make_clocked(label, clocked=clocked)


@pytest.fixture(scope="module")
def loop_world(request: pytest.FixtureRequest) -> Iterator[Loop]:
    yield from module_world(request, lambda: _loop_build(request, "Alpha"))


@pytest.fixture(scope="module")
def other_loop_world(request: pytest.FixtureRequest) -> Iterator[Loop]:
    yield from module_world(request, lambda: _loop_build(request, "Other"))


@pytest.fixture
def loop(loop_world: Loop, db: None) -> Loop:
    """The referral loop's cast in network A (a clinic, two agencies with agreements, their
    staff, a consented client), built once for the module; this test's own copy."""
    return world_copy(loop_world)


@pytest.fixture
def other_loop(other_loop_world: Loop, db: None) -> Loop:
    """The same cast in another network."""
    return world_copy(other_loop_world)


@pytest.fixture
def tenant_a(request: pytest.FixtureRequest, db: None) -> Tenant:
    """Network A with one user per role: in a test of the loop, the loop's own (user names are
    unique); elsewhere a tenant of its own."""
    if "loop" in request.fixturenames:
        return cast("Loop", request.getfixturevalue("loop")).tenant
    return tenant_make("Alpha")


@pytest.fixture
def tenant_b(db) -> Tenant:
    return tenant_make("Bravo")


@pytest.fixture
def outsider(db) -> User:
    """Signed-in user with no membership anywhere."""
    return UserFactory(username="outsider")


@pytest.fixture
def superuser(db) -> User:
    return UserFactory(username="root", is_superuser=True, is_staff=True)


# The longest tests (the walks over every URL, and among the browser tests the page walk and the
# whole loop), started first (the browser tests first among themselves) so that the other worker
# is not left waiting for them at the end of a parallel run.
LONGEST = (
    "tests/network/test_isolation_walk.py",
    "tests/network/test_bad_input.py",
    "tests/e2e/test_page_walk.py",
    "tests/e2e/test_referral_loop.py",
)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Browser tests run last: their live-server flushes must not precede a test that restores
    the database from its serialized copy (the Celery worker and gunicorn tests). The longest
    tests run first, and the longest browser tests first among the browser tests."""

    def order(item: pytest.Item) -> tuple[bool, bool]:
        path = str(item.path)
        return "tests/e2e/" in path, not path.endswith(LONGEST)

    items.sort(key=order)


@pytest.fixture
def clock_before_sent_at() -> Iterator[None]:
    """The referral loop's tests run on a clock an hour before SENT_AT, whatever the real date:
    what happens "now" (a revocation, an update) comes before the fixed instants, never after
    them. A module asks for it with ``pytestmark = pytest.mark.usefixtures(...)``."""
    with time_machine.travel(SENT_AT - timedelta(hours=1), tick=True):
        yield


def queries(client: Any, url: str, **kwargs: Any) -> int:
    """How many queries one GET costs (it must answer 200)."""
    with CaptureQueriesContext(connection) as captured:
        response = client.get(url, **kwargs)
    assert response.status_code == 200, response.status_code
    return len(captured.captured_queries)


@contextmanager
def cold_queries() -> Iterator[CaptureQueriesContext]:
    """The queries of what runs inside, the cache emptied first: what pages keep there (counts,
    the header's unread count) is computed again, so that two counts compare the same work
    whatever the first request left kept."""
    cache.clear()
    with CaptureQueriesContext(connection) as captured:
        yield captured


def queries_cold(client: Any, url: str, **kwargs: Any) -> int:
    """``queries``, the cache emptied first (``cold_queries``)."""
    cache.clear()
    return queries(client, url, **kwargs)


@pytest.fixture
def second_clinic_staff(loop: Loop) -> User:
    """Staff of another clinic in the same network."""
    clinic = organization_make(loop.tenant.network, "clinic", name="Second Clinic")
    user = UserFactory(username="second-clinic-staff")
    services.membership_grant(user=user, role=Role.CLINIC_STAFF, organization=clinic, notify=False)
    return user
