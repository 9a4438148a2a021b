"""Every route of the referral loop, under the staff workspace (``/workspace/``)."""

from django.urls import URLPattern, URLResolver, path

from .api import api
from .views import (
    client_records,
    clients,
    disclosures,
    elsewhere,
    inbox,
    notifications,
    referral,
    screening,
    search,
    send,
    tracker,
)

app_name = "referrals"

urlpatterns: list[URLPattern | URLResolver] = [
    # The clinic: clients, their screenings and consents.
    path("clients/", clients.client_list, name="client_list"),
    path("clients/new/", clients.client_new, name="client_new"),
    path("clients/<int:pk>/", clients.client_detail, name="client_detail"),
    path("clients/<int:pk>/edit/", client_records.client_edit, name="client_edit"),
    path("clients/<int:pk>/merge/", client_records.client_merge, name="client_merge"),
    path(
        "clients/<int:pk>/disclosures/", disclosures.client_disclosures, name="client_disclosures"
    ),
    path("clients/<int:pk>/screen/", screening.screening_new, name="screening_new"),
    path(
        "clients/<int:pk>/screenings/<int:screening_pk>/",
        screening.screening_detail,
        name="screening_detail",
    ),
    path("clients/<int:pk>/consents/new/", clients.consent_new, name="consent_new"),
    path(
        "clients/<int:pk>/consents/<int:consent_pk>/revoke/",
        clients.consent_revoke,
        name="consent_revoke",
    ),
    # Search to refer, send, and follow what was sent.
    path("search/", search.staff_search, name="search"),
    path("referrals/new/", send.referral_new, name="referral_new"),
    path("referrals/sent/", tracker.referral_tracker, name="referral_tracker"),
    # One referral, for either side.
    path("referrals/<int:pk>/", referral.referral_detail, name="referral_detail"),
    path(
        "referrals/<int:pk>/transition/",
        referral.referral_transition,
        name="referral_transition",
    ),
    path("referrals/<int:pk>/print/", referral.referral_print, name="referral_print"),
    path("referrals/<int:pk>/message/", referral.referral_message, name="referral_message"),
    path("referrals/<int:pk>/elsewhere/", elsewhere.referral_elsewhere, name="referral_elsewhere"),
    # The agency's inbox; everyone's notifications.
    path("inbox/", inbox.referral_inbox, name="referral_inbox"),
    path("notifications/", notifications.notification_list, name="notification_list"),
    path("notifications/read/", notifications.notifications_read, name="notifications_read"),
    # The JSON API for the acting organization (referrals:api:…), its schema and docs.
    path("api/", api.urls),
]
