"""The staff workspace's tenancy pages: home, switching organization, organizations, members,
invitations and the network overview (``/workspace/``)."""

from django.urls import path

from .views import organizations as views

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
]
