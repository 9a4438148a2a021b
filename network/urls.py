from django.urls import path

from search import views as search_views

from . import api, views
from .views import clients, clinic, inbox, portal, referrals, send, tracker

app_name = "network"

urlpatterns = [
    path("", views.workspace, name="workspace"),
    path("switch/", views.membership_switch, name="membership_switch"),
    path("organizations/", views.organization_list, name="organization_list"),
    path("organizations/<slug:slug>/", views.organization_detail, name="organization_detail"),
    path(
        "organizations/<slug:slug>/members/",
        views.organization_members,
        name="organization_members",
    ),
    path("organizations/<slug:slug>/members/add/", views.member_add, name="member_add"),
    path(
        "organizations/<slug:slug>/members/<int:membership_id>/remove/",
        views.member_remove,
        name="member_remove",
    ),
    path("invitations/", views.invitation_list, name="invitation_list"),
    path("invitations/<int:pk>/accept/", views.invitation_accept, name="invitation_accept"),
    path("invitations/<int:pk>/decline/", views.invitation_decline, name="invitation_decline"),
    path(
        "organizations/<slug:slug>/invitations/<int:pk>/withdraw/",
        views.invitation_withdraw,
        name="invitation_withdraw",
    ),
    path("network/", views.network_overview, name="network_overview"),
    path("search/", search_views.staff_search, name="search"),
    path("clients/<int:pk>/disclosures/", clients.client_disclosures, name="client_disclosures"),
    path("notifications/", inbox.notification_list, name="notification_list"),
    path("notifications/read/", inbox.notifications_read, name="notifications_read"),
    path("referrals/new/", send.referral_new, name="referral_new"),
    path("referrals/<int:pk>/", referrals.referral_detail, name="referral_detail"),
    path(
        "referrals/<int:pk>/transition/",
        referrals.referral_transition,
        name="referral_transition",
    ),
    path("referrals/<int:pk>/message/", referrals.referral_message, name="referral_message"),
    path("api/referrals/", api.referrals, name="api_referrals"),
    path("api/referrals/<int:pk>/", api.referral, name="api_referral"),
    path(
        "api/referrals/<int:pk>/transition/",
        api.referral_transition,
        name="api_referral_transition",
    ),
]
# The clinic workspace and the agency portal declare their own routes.
urlpatterns += clinic.urlpatterns + portal.urlpatterns + tracker.urlpatterns
