"""Every page in the network's time zone (issue 15, bug 3): the tenant middleware activates it
for the workspace, and lends it to the Wagtail admin for people who chose no zone there."""

from __future__ import annotations

import pytest
from django.http import HttpRequest, HttpResponse
from django.test import RequestFactory
from django.utils import timezone
from wagtail.admin.localization import get_localized_response
from wagtail.users.models import UserProfile

from network.middleware import TenantMiddleware, network_zone, wagtail_admin_zone
from network.models import Network, Role

pytestmark = pytest.mark.django_db


def _zone_seen(request: HttpRequest) -> HttpResponse:
    return HttpResponse(timezone.get_current_timezone_name())


def _through_middleware(request: HttpRequest, view=_zone_seen) -> str:  # type: ignore[no-untyped-def]
    return TenantMiddleware(view)(request).content.decode()


def _request(path: str, user) -> HttpRequest:  # type: ignore[no-untyped-def]
    request = RequestFactory().get(path)
    request.user = user
    request.session = {}  # type: ignore[assignment]
    return request


def test_a_members_pages_are_in_their_networks_zone(tenant_a):
    Network.objects.filter(pk=tenant_a.network.pk).update(time_zone="America/Chicago")
    user = tenant_a.users[Role.CLINIC_STAFF]
    assert _through_middleware(_request("/workspace/", user)) == "America/Chicago"
    assert timezone.get_current_timezone_name() == "UTC"  # and only for that request


def test_the_wagtail_admin_uses_the_networks_zone_unless_the_person_chose_one(tenant_a):
    admin = tenant_a.users[Role.NETWORK_ADMIN]

    def admin_view(request: HttpRequest) -> HttpResponse:
        return get_localized_response(_zone_seen, request)

    zone = tenant_a.network.time_zone
    assert zone != "UTC"
    assert _through_middleware(_request("/admin/", admin), admin_view) == zone
    UserProfile.objects.update_or_create(user=admin, defaults={"current_time_zone": "Asia/Tokyo"})
    admin.refresh_from_db()
    fresh = type(admin).objects.get(pk=admin.pk)
    assert _through_middleware(_request("/admin/", fresh), admin_view) == "Asia/Tokyo"


def test_lending_the_zone_saves_nothing(tenant_a):
    admin = tenant_a.users[Role.NETWORK_ADMIN]
    zone = network_zone(tenant_a.network)
    assert zone is not None
    wagtail_admin_zone(admin, zone)
    assert admin.wagtail_userprofile.current_time_zone == zone.key
    assert not UserProfile.objects.filter(user=admin).exists()


def test_an_unknown_zone_is_ignored(tenant_a):
    network = tenant_a.network
    network.time_zone = "Mars/Olympus"
    assert network_zone(network) is None
    assert network_zone(None) is None
