"""Every route of the directory outside Wagtail: the emailed listing check (``/listings/``) and
the agency portal's listing pages in the staff workspace (``/workspace/listings/``)."""

from django.urls import path

from .views import listings, verification

app_name = "directory"

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
]
