"""Wagtail admin: the network dashboard (closed-loop figures and the overdue report) for the
admins of the network the user is acting in."""

from __future__ import annotations

from django.urls import URLPattern, path, reverse
from django.utils.translation import gettext_lazy as _
from wagtail import hooks
from wagtail.admin.menu import MenuItem

from network.wagtail_scoping import NetworkAdminsMenuItem

from . import admin_views


@hooks.register("register_admin_urls")
def dashboard_admin_urls() -> list[URLPattern]:
    return [
        path("dashboard/", admin_views.network_dashboard, name="network_dashboard"),
        path(
            "dashboard/overdue/<int:agency_id>/",
            admin_views.network_dashboard_overdue,
            name="network_dashboard_overdue",
        ),
    ]


@hooks.register("register_admin_menu_item")
def dashboard_menu_item() -> MenuItem:
    return NetworkAdminsMenuItem(
        _("Network dashboard"), reverse("network_dashboard"), icon_name="table", order=215
    )
