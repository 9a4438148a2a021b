from django.urls import path

from search import views as search_views

from . import views

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
    path("network/", views.network_overview, name="network_overview"),
    path("search/", search_views.staff_search, name="search"),
]
