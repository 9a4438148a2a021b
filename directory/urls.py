"""Every route of the directory outside Wagtail: the emailed listing check (``/listings/``) and
the agency portal's listing pages in the staff workspace (``/workspace/listings/``), and the
public HSDS 3.0 API of each network's host (``/api/hsds/``)."""

from django.urls import include, path

from .api.hsds import api as hsds_api
from .api.public import public_read_urls
from .views import listings, verification

app_name = "directory"

_hsds_patterns, _hsds_app, _hsds_namespace = hsds_api.urls

urlpatterns = [
    path("listings/verify/", verification.listing_verify, name="listing_verify"),
    path(
        "listings/verify/<str:token>/",
        verification.listing_verify_link,
        name="listing_verify_link",
    ),
    path("workspace/listings/", listings.agency_listings, name="agency_listings"),
    path("workspace/listings/confirm/", listings.listing_confirm, name="listing_confirm"),
    path("workspace/listings/suggest/", listings.listing_suggest, name="listing_suggest"),
    path(
        "workspace/listings/services/<int:pk>/capacity/",
        listings.capacity_update,
        name="capacity_update",
    ),
    path(
        "api/hsds/",
        include(
            (public_read_urls(_hsds_patterns, prefix="hsds"), _hsds_app),
            namespace=_hsds_namespace,
        ),
    ),
]
