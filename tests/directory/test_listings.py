"""Directory pages: tree rules, who may edit and publish, capacity, geocoding and open now."""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from decimal import Decimal

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.urls import reverse
from wagtail.models import Page, WorkflowState

from cms.models import HomePage
from demo.networks import directory_dataset
from directory import selectors, services
from directory.hsds.importing import directory_import
from directory.models import (
    AgencyPage,
    DirectoryIndexPage,
    GeocodeStatus,
    Location,
    LocationPoint,
    ServiceClosure,
    ServiceHours,
    ServicePage,
)
from directory.models.services import service_open_status
from directory.verification_links import verification_token_make
from network.models import Role
from tests.network.factories import UserFactory


@pytest.fixture
def listed(tenant_a):
    """tenant_a's agency with a listing (one location, one service) made by the importer."""
    from directory.hsds.reading import read  # noqa: F401

    index = services.directory_index_for(tenant_a.network)
    agency = AgencyPage(
        title=tenant_a.agency.name,
        slug="agency",
        description="Helps people.",
        organization=tenant_a.agency,
    )
    index.add_child(instance=agency)
    location = Location.objects.create(
        page=agency,
        name="Main",
        address_1="2200 Harrison Ave",
        city="Eureka",
        state_province="CA",
        postal_code="95501",
    )
    service = ServicePage(title="Pantry", slug="pantry", description="Food.")
    agency.add_child(instance=service)
    services.listing_editors_sync(organization=tenant_a.agency)
    return agency, location, service


@pytest.mark.django_db
def test_page_tree_rules():
    assert DirectoryIndexPage.can_exist_under(HomePage())
    assert not AgencyPage.can_exist_under(HomePage())
    assert AgencyPage.can_exist_under(DirectoryIndexPage())
    assert not ServicePage.can_exist_under(DirectoryIndexPage())
    assert ServicePage.can_exist_under(AgencyPage())
    assert ServicePage.allowed_subpage_models() == []
    assert AgencyPage.allowed_subpage_models() == [ServicePage]


@pytest.mark.django_db
def test_only_one_directory_per_network(tenant_a):
    index = services.directory_index_for(tenant_a.network)
    assert services.directory_index_for(tenant_a.network) == index
    assert not DirectoryIndexPage.can_create_at(tenant_a.network.root_page)


@pytest.mark.django_db
def test_agency_admin_edits_own_listing_but_cannot_publish(client, tenant_a, listed):
    agency, _, service = listed
    admin = tenant_a.users[Role.AGENCY_ADMIN]
    perms = agency.permissions_for_user(admin)
    assert perms.can_edit()
    assert not perms.can_publish()
    assert service.permissions_for_user(admin).can_edit()
    client.force_login(admin)
    assert client.get(reverse("wagtailadmin_pages:edit", args=[agency.pk])).status_code == 200


@pytest.mark.django_db
def test_agency_admin_changes_go_to_network_admin_review(client, tenant_a, listed):
    agency, _, _ = listed
    client.force_login(tenant_a.users[Role.AGENCY_ADMIN])
    edit = reverse("wagtailadmin_pages:edit", args=[agency.pk])
    form = client.get(edit).context["form"]
    data = {k: v for k, v in form.initial.items() if v is not None and not isinstance(v, list)}
    data.update(
        {
            "title": agency.title,
            "slug": agency.slug,
            "description": "Now open late.",
            "action-submit": "Submit",
            "organization": tenant_a.agency.pk,
        }
    )
    for prefix in ("phones", "locations", "location_hours"):
        formset = form.formsets[prefix]
        data.update(
            {
                f"{prefix}-TOTAL_FORMS": "0",
                f"{prefix}-INITIAL_FORMS": "0",
                f"{prefix}-MIN_NUM_FORMS": "0",
                f"{prefix}-MAX_NUM_FORMS": "1000",
            }
        )
        assert formset is not None
    response = client.post(edit, data)
    assert response.status_code == 302, response.context["form"].errors if response.context else ""
    state = WorkflowState.objects.get(base_content_type__isnull=False, object_id=str(agency.pk))
    assert state.status == WorkflowState.STATUS_IN_PROGRESS
    agency.refresh_from_db()
    assert agency.description == "Helps people."  # live content waits for approval
    task = state.current_task_state.task.specific
    assert list(task.groups.all()) == [tenant_a.network.admin_group]


@pytest.mark.django_db
@pytest.mark.parametrize("role", [Role.AGENCY_STAFF, Role.CLINIC_ADMIN, Role.CLINIC_STAFF])
def test_other_roles_cannot_edit_the_listing(tenant_a, listed, role):
    agency, _, _ = listed
    assert not agency.permissions_for_user(tenant_a.users[role]).can_edit()


@pytest.mark.django_db
def test_admin_of_another_agency_or_network_cannot_edit(tenant_a, tenant_b, listed):
    agency, _, _ = listed
    assert not agency.permissions_for_user(tenant_b.users[Role.AGENCY_ADMIN]).can_edit()
    assert not agency.permissions_for_user(tenant_b.users[Role.NETWORK_ADMIN]).can_edit()
    assert agency.permissions_for_user(tenant_a.users[Role.NETWORK_ADMIN]).can_publish()


@pytest.mark.django_db
def test_losing_the_admin_role_removes_editing(tenant_a, listed):
    from network import services as network_services

    agency, _, _ = listed
    admin = tenant_a.users[Role.AGENCY_ADMIN]
    network_services.membership_grant(
        user=admin, role=Role.AGENCY_STAFF, organization=tenant_a.agency, notify=False
    )
    admin = type(admin).objects.get(pk=admin.pk)
    assert not agency.permissions_for_user(admin).can_edit()


@pytest.mark.django_db
def test_capacity_changes_instantly_by_agency_staff_only(tenant_a, tenant_b, listed):
    _, _, service = listed
    staff = tenant_a.users[Role.AGENCY_STAFF]
    capacity = services.capacity_update(
        service=service, status="waitlist", note="2 weeks", by=staff
    )
    assert (capacity.status, capacity.note, capacity.updated_by) == ("waitlist", "2 weeks", staff)
    assert Page.objects.get(pk=service.pk).latest_revision is None  # no revision was made
    for outsider in (tenant_a.users[Role.CLINIC_STAFF], tenant_b.users[Role.AGENCY_STAFF]):
        with pytest.raises(PermissionDenied):
            services.capacity_update(service=service, status="accepting", by=outsider)
    with pytest.raises(ValidationError):
        services.capacity_update(service=service, status="full", by=staff)
    service.capacity.refresh_from_db()
    assert service.capacity.status == "waitlist"
    services.capacity_update(
        service=service, status="accepting", by=tenant_a.users[Role.NETWORK_ADMIN]
    )


@pytest.mark.django_db
def test_location_is_geocoded_after_save_and_flagged_when_it_cannot_be(
    tenant_a, listed, django_capture_on_commit_callbacks
):
    _, location, _ = listed
    with django_capture_on_commit_callbacks(execute=True):
        queued = services.location_points_refresh(locations=[location])
    assert queued == [location.pk]
    point = LocationPoint.objects.get(location=location)
    assert point.status == GeocodeStatus.PLACED
    assert abs(point.latitude - 40.80) < 0.2
    assert abs(point.longitude + 124.16) < 0.2

    location.postal_code, location.address_1 = "00000", "1 Nowhere Rd"
    location.save()
    with django_capture_on_commit_callbacks(execute=True):
        services.location_points_refresh(locations=[location])
    point.refresh_from_db()
    assert point.status == GeocodeStatus.FAILED
    assert (point.latitude, point.longitude) == (None, None)  # never 0,0
    assert list(selectors.locations_unplaced(network=tenant_a.network)) == [point]

    location.latitude, location.longitude = Decimal("40.7"), Decimal("-124.2")
    location.save()
    services.location_points_refresh(locations=[location])
    point.refresh_from_db()
    assert (point.status, point.latitude) == (GeocodeStatus.MANUAL, 40.7)


@pytest.mark.django_db
def test_unchanged_address_is_not_geocoded_again(
    tenant_a, listed, django_capture_on_commit_callbacks
):
    _, location, _ = listed
    with django_capture_on_commit_callbacks(execute=True):
        services.location_points_refresh(locations=[location])
    assert services.location_points_refresh(locations=[location]) == []


@pytest.mark.django_db
def test_zero_zero_coordinates_are_refused(listed):
    _, location, _ = listed
    location.latitude = location.longitude = Decimal(0)
    with pytest.raises(ValidationError, match="0,0"):
        location.full_clean()


@pytest.mark.django_db
def test_open_now_uses_network_time_zone_overnight_hours_and_closures(tenant_a, listed):
    _, _, service = listed
    ServiceHours.objects.create(page=service, weekday=4, opens_at=time(18), closes_at=time(8))
    ServiceClosure.objects.create(
        page=service, start_date=date(2026, 12, 25), end_date=date(2026, 12, 25)
    )
    network = tenant_a.network  # America/Los_Angeles

    def status(utc: datetime) -> bool:
        return service_open_status(service=service, network=network, at=utc).is_open

    assert status(datetime(2026, 11, 28, 7, 0, tzinfo=UTC))  # Fri 23:00 in Eureka
    assert status(datetime(2026, 11, 28, 15, 0, tzinfo=UTC))  # Sat 07:00, the overnight shift
    assert not status(datetime(2026, 11, 28, 17, 0, tzinfo=UTC))  # Sat 09:00
    assert not status(datetime(2026, 12, 26, 4, 0, tzinfo=UTC))  # Fri 25 Dec 20:00: closed


@pytest.mark.django_db
def test_demo_import_places_every_location_and_is_idempotent(tenant_a):
    report = directory_import(network=tenant_a.network, dataset=directory_dataset("del-norte"))
    assert report.created["service"] == 17
    points = LocationPoint.objects.filter(location__page__organization__network=tenant_a.network)
    assert points.count() == 6
    assert set(points.values_list("status", flat=True)) == {GeocodeStatus.MANUAL}
    again = directory_import(network=tenant_a.network, dataset=directory_dataset("del-norte"))
    assert not again.changed


@pytest.mark.django_db
def test_stale_listings(tenant_a, listed):
    from django.utils import timezone

    from directory.models import ListingVerification

    agency, _, service = listed
    now = timezone.now()
    stale = set(selectors.listings_stale(network=tenant_a.network, now=now))
    assert {agency.pk, service.pk} <= {p.pk for p in stale}
    ListingVerification.objects.create(page=agency, last_verified_at=now, verified_by=UserFactory())
    stale = {p.pk for p in selectors.listings_stale(network=tenant_a.network, now=now)}
    assert agency.pk not in stale
    assert service.pk in stale


def _host(tenant) -> str:
    return tenant.network.site.hostname


@pytest.mark.django_db
def test_stale_listing_editors_get_a_link_that_confirms_without_a_password(
    client, tenant_a, listed, django_capture_on_commit_callbacks, mailoutbox
):
    import re

    from django.utils import timezone

    from directory.models import ListingVerification

    agency, _, service = listed
    now = timezone.now()
    with django_capture_on_commit_callbacks(execute=True):
        asked = services.listings_verification_request(network=tenant_a.network, now=now)
    admin = tenant_a.users[Role.AGENCY_ADMIN]
    assert asked == [(agency.pk, admin.pk)]  # the agency's editors only, not its staff
    assert [m.to for m in mailoutbox] == [[admin.email]]
    # The link points at the agency's own network site.
    host, link = re.search(r"http://([^/\s]+)(/listings/verify/\S+/)", mailoutbox[0].body).groups()
    assert host == _host(tenant_a)

    # Not asked again within two weeks.
    assert services.listings_verification_request(network=tenant_a.network, now=now) == []

    landing = client.get(link, HTTP_HOST=host)  # no login
    assert landing.status_code == 302
    url = landing["Location"]
    assert url == reverse("directory:listing_verify")
    page = client.get(url, HTTP_HOST=host)
    assert page.status_code == 200
    assert service.title in page.content.decode()
    assert client.post(url, {"action": "delete everything"}, HTTP_HOST=host).status_code == 400
    update = client.post(url, {"action": "update"}, HTTP_HOST=host)
    assert update["Location"] == reverse("wagtailadmin_pages:edit", args=[agency.pk])
    done = client.post(url, {"action": "confirm"}, HTTP_HOST=host)
    assert done.status_code == 200
    verified = ListingVerification.objects.filter(page__in=[agency.pk, service.pk])
    assert {v.verified_by for v in verified} == {admin}
    assert selectors.listings_stale(network=tenant_a.network, now=now).count() == 0


@pytest.mark.django_db
def test_a_verification_link_works_once(client, tenant_a, listed):
    from directory.models import ListingVerification

    agency, _, _ = listed
    admin = tenant_a.users[Role.AGENCY_ADMIN]
    link = reverse(
        "directory:listing_verify_link",
        args=[verification_token_make(page=agency, user=admin)],
    )
    host = _host(tenant_a)
    url = client.get(link, HTTP_HOST=host)["Location"]
    assert client.post(url, {"action": "confirm"}, HTTP_HOST=host).status_code == 200
    first = ListingVerification.objects.get(page=agency).last_verified_at

    # Neither the page (its session was used up) nor the emailed link answers again.
    assert client.post(url, {"action": "confirm"}, HTTP_HOST=host).status_code == 404
    again = client.get(link, HTTP_HOST=host)
    assert again.status_code == 410
    assert "already used" in again.content.decode()
    other_browser = client.__class__()
    assert other_browser.get(link, HTTP_HOST=host).status_code == 410
    assert ListingVerification.objects.get(page=agency).last_verified_at == first


@pytest.mark.django_db
def test_a_verification_link_answers_only_on_its_networks_site(client, tenant_a, tenant_b, listed):
    from directory.models import ListingVerification

    agency, _, _ = listed
    admin = tenant_a.users[Role.AGENCY_ADMIN]
    link = reverse(
        "directory:listing_verify_link",
        args=[verification_token_make(page=agency, user=admin)],
    )
    elsewhere = client.get(link, HTTP_HOST=_host(tenant_b))
    assert elsewhere.status_code == 404
    assert agency.title not in elsewhere.content.decode()
    # A session started on the right site does not carry over to the other network's host.
    url = client.get(link, HTTP_HOST=_host(tenant_a))["Location"]
    moved = client.post(url, {"action": "confirm"}, HTTP_HOST=_host(tenant_b))
    assert moved.status_code == 404
    assert agency.title not in moved.content.decode()
    assert not ListingVerification.objects.filter(
        page=agency, last_verified_at__isnull=False
    ).exists()


@pytest.mark.django_db
def test_the_verification_token_stays_out_of_every_later_request(client, tenant_a, listed):
    agency, _, _ = listed
    admin = tenant_a.users[Role.AGENCY_ADMIN]
    token = verification_token_make(page=agency, user=admin)
    host = _host(tenant_a)
    landing = client.get(reverse("directory:listing_verify_link", args=[token]), HTTP_HOST=host)
    assert landing.status_code == 302
    assert token not in landing["Location"]
    assert landing["Referrer-Policy"] == "no-referrer"
    page = client.get(landing["Location"], HTTP_HOST=host)
    body = page.content.decode()
    assert token not in body  # the form posts to the token-free address
    assert 'method="post"' in body
    done = client.post(landing["Location"], {"action": "confirm"}, HTTP_HOST=host)
    assert done.status_code == 200
    assert token not in done.content.decode()


@pytest.mark.django_db
def test_altered_expired_or_revoked_links_are_refused(client, tenant_a, listed):
    from datetime import timedelta
    from unittest import mock

    from network import services as network_services

    agency, _, _ = listed
    admin = tenant_a.users[Role.AGENCY_ADMIN]
    host = _host(tenant_a)
    token = verification_token_make(page=agency, user=admin)
    link = reverse("directory:listing_verify_link", args=[token])
    altered = client.get(
        reverse("directory:listing_verify_link", args=[token[:-2] + "xx"]), HTTP_HOST=host
    )
    assert altered.status_code == 404
    assert "not valid" in altered.content.decode()
    later = datetime.now(tz=UTC) + timedelta(days=31)
    with mock.patch("django.core.signing.time.time", return_value=later.timestamp()):
        expired = client.get(link, HTTP_HOST=host)
    assert expired.status_code == 410
    assert "expired" in expired.content.decode()
    url = client.get(link, HTTP_HOST=host)["Location"]
    network_services.membership_grant(
        user=admin, role=Role.AGENCY_STAFF, organization=tenant_a.agency, notify=False
    )
    revoked = client.post(url, {"action": "confirm"}, HTTP_HOST=host)
    assert revoked.status_code == 404
    assert not agency.__class__.objects.filter(pk=agency.pk, verification__isnull=False).exists()
    assert client.get(reverse("directory:listing_verify"), HTTP_HOST=host).status_code == 404


@pytest.mark.django_db
def test_page_forms_offer_only_own_network_and_agency_choices(client, tenant_a, tenant_b, listed):
    agency, _, service = listed
    other_index = services.directory_index_for(tenant_b.network)
    other = AgencyPage(
        title="Bravo Listing", slug="bravo", description="B.", organization=tenant_b.agency
    )
    other_index.add_child(instance=other)
    Location.objects.create(
        page=other,
        name="Bravo Hall",
        address_1="1 B St",
        city="Crescent City",
        state_province="CA",
        postal_code="95531",
    )
    sibling = AgencyPage(title="Sibling", slug="sibling", description="S.")
    services.directory_index_for(tenant_a.network).add_child(instance=sibling)
    Location.objects.create(
        page=sibling,
        name="Sibling Hall",
        address_1="2 S St",
        city="Eureka",
        state_province="CA",
        postal_code="95501",
    )
    client.force_login(tenant_a.users[Role.NETWORK_ADMIN])

    service_form = client.get(reverse("wagtailadmin_pages:edit", args=[service.pk]))
    body = service_form.content.decode()
    assert "Main — 2200 Harrison Ave" in body
    assert "Bravo Hall" not in body  # another network
    assert "Sibling Hall" not in body  # another agency of the same network
    agency_form = client.get(reverse("wagtailadmin_pages:edit", args=[agency.pk])).content.decode()
    assert tenant_a.agency.name in agency_form
    assert tenant_b.agency.name not in agency_form
    assert "Bravo Hall" not in agency_form


@pytest.mark.django_db
def test_verification_page_query_count_does_not_grow_with_services(client, tenant_a, listed):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from directory.models import SdohCategory

    agency, _, _ = listed
    token = verification_token_make(page=agency, user=tenant_a.users[Role.AGENCY_ADMIN])
    host = _host(tenant_a)
    url = client.get(reverse("directory:listing_verify_link", args=[token]), HTTP_HOST=host)[
        "Location"
    ]
    food = SdohCategory.objects.get(code="food-insecurity")

    def grow(n: int) -> None:
        for _ in range(n):
            count = ServicePage.objects.count()
            page = ServicePage(title=f"Service {count}", slug=f"service-{count}", description=".")
            agency.add_child(instance=page)
            page.categories.add(food)
            page.save()

    def queries() -> int:
        with CaptureQueriesContext(connection) as ctx:
            assert client.get(url, HTTP_HOST=host).status_code == 200
        return len(ctx.captured_queries)

    grow(2)
    small = queries()
    grow(8)
    assert queries() == small


@pytest.mark.django_db
def test_the_directory_page_lists_its_agencies(client, tenant_a, listed):
    """The directory page answered 500 (no template) on every network's site."""
    agency, _location, _service = listed
    agency.save_revision().publish()
    response = client.get("/directory/", HTTP_HOST=tenant_a.network.site.hostname)
    assert response.status_code == 200
    assert agency.title in response.content.decode()


def test_the_verification_email_is_plain_text_not_html_escaped(tenant_a, listed, mailoutbox):
    from directory.notifications import listing_verification_email

    agency, _, _ = listed
    agency.title = "Smith & Jones <Pantry>"
    agency.save()
    admin = tenant_a.users[Role.AGENCY_ADMIN]
    admin.first_name = "Ana <img src=x>"
    admin.save()
    assert listing_verification_email(page_id=agency.pk, user_id=admin.pk)
    (message,) = mailoutbox
    assert "Hello Ana <img src=x>," in message.body
    assert "Smith & Jones <Pantry>" in message.body
    assert "Smith & Jones <Pantry>" in message.subject
    assert "&lt;" not in message.body + message.subject
    assert "&amp;" not in message.body + message.subject
