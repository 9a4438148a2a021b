"""Directory in the Wagtail admin: service types, imports and the listings report, per network."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from django.urls import URLPattern, URLResolver, include, path, reverse
from django.utils.translation import gettext_lazy as _
from wagtail import hooks
from wagtail.admin.forms import WagtailAdminModelForm
from wagtail.admin.menu import MenuItem
from wagtail.admin.panels import FieldPanel, ObjectList
from wagtail.permissions import register_permission_policy
from wagtail.snippets.models import register_snippet
from wagtail.snippets.views import snippets as snippet_views
from wagtail.snippets.views.snippets import SnippetViewSet

from network.permissions import NetworkPerm, NetworkScopedPolicy, networks_with_perm
from network.wagtail_scoping import scoped

from . import admin_views
from .models import TaxonomyTerm

taxonomy_policy = NetworkScopedPolicy(TaxonomyTerm)
register_permission_policy(TaxonomyTerm, taxonomy_policy, exact_class=True)


class TaxonomyTermForm(WagtailAdminModelForm):
    """Offers only the editor's networks, and parents from the same network."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        user = self.for_user
        if user is not None and not user.is_superuser:
            networks = networks_with_perm(user, NetworkPerm.ADMINISTER)
            self.fields["network"].queryset = networks
            self.fields["parent"].queryset = TaxonomyTerm.objects.filter(network__in=networks)


class TaxonomyTermViewSet(SnippetViewSet):
    model = TaxonomyTerm
    icon = "tag"
    menu_label = _("Service types")
    menu_order = 230
    add_to_admin_menu = True
    edit_handler = ObjectList(
        [
            FieldPanel("network"),
            FieldPanel("name"),
            FieldPanel("code"),
            FieldPanel("description"),
            FieldPanel("parent"),
            FieldPanel("taxonomy"),
        ],
        base_form_class=TaxonomyTermForm,
    )
    list_display = ["name", "code", "parent", "network"]
    search_fields = ["name", "code"]
    edit_view_class = scoped(snippet_views.EditView)
    delete_view_class = scoped(snippet_views.DeleteView)
    usage_view_class = scoped(snippet_views.UsageView)
    history_view_class = scoped(snippet_views.HistoryView)
    copy_view_class = scoped(snippet_views.CopyView)

    def get_queryset(self, request: HttpRequest) -> Any:
        return taxonomy_policy.instances_user_has_any_permission_for(
            request.user, ["change"]
        ).select_related("parent", "network")


register_snippet(TaxonomyTermViewSet)


class NetworkAdminsMenuItem(MenuItem):
    def is_shown(self, request: HttpRequest) -> bool:
        return bool(
            request.user.is_superuser
            or networks_with_perm(request.user, NetworkPerm.ADMINISTER).exists()
        )


@hooks.register("register_admin_urls")
def directory_admin_urls() -> list[URLPattern | URLResolver]:
    urls = [
        path("import/", admin_views.import_index, name="import_index"),
        path("import/<int:pk>/", admin_views.import_detail, name="import_detail"),
        path("listings-to-check/", admin_views.listings_report, name="listings_report"),
    ]
    return [path("directory/", include((urls, "directory_admin")))]


@hooks.register("register_admin_menu_item")
def import_menu_item() -> MenuItem:
    return NetworkAdminsMenuItem(
        _("Import directory"),
        reverse("directory_admin:import_index"),
        icon_name="download",
        order=240,
    )


@hooks.register("register_reports_menu_item")
def listings_report_menu_item() -> MenuItem:
    return NetworkAdminsMenuItem(
        _("Listings to check"),
        reverse("directory_admin:listings_report"),
        icon_name="warning",
        order=100,
    )
