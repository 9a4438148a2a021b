"""Directory in the Wagtail admin: service types, imports and the listings report, per network."""

from __future__ import annotations

from typing import Any, cast

from django.http import HttpRequest
from django.urls import URLPattern, URLResolver, include, path, reverse
from django.utils.translation import gettext_lazy as _
from wagtail import hooks
from wagtail.admin import messages
from wagtail.admin.forms import WagtailAdminModelForm
from wagtail.admin.menu import MenuItem
from wagtail.admin.panels import FieldPanel, MultiFieldPanel, ObjectList
from wagtail.log_actions import log
from wagtail.permissions import register_permission_policy
from wagtail.snippets.models import register_snippet
from wagtail.snippets.views import snippets as snippet_views

from network.models import User
from network.permissions import NetworkPerm, NetworkScopedPolicy, networks_with_perm
from network.wagtail_scoping import NetworkAdminsMenuItem, NetworkScopedSnippetViewSet

from . import admin_views, services
from .feeds import admin as feed_admin
from .models import FeedListing, HsdsFeed, ListingSuggestion, TaxonomyTerm

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


class TaxonomyTermViewSet(NetworkScopedSnippetViewSet):
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

    def get_queryset(self, request: HttpRequest) -> Any:
        return super().get_queryset(request).select_related("parent", "network")


register_snippet(TaxonomyTermViewSet)


class ListingSuggestionPolicy(NetworkScopedPolicy):
    """Agencies make suggestions in their portal; admins only review them, and keep them."""

    READ_ONLY_ACTIONS = frozenset({"add", "delete", "copy"})

    def user_has_permission(self, user: Any, action: str) -> bool:
        return action not in self.READ_ONLY_ACTIONS and super().user_has_permission(user, action)

    def user_has_any_permission(self, user: Any, actions: Any) -> bool:
        return any(self.user_has_permission(user, action) for action in actions)

    def user_has_any_permission_for_instance(self, user: Any, actions: Any, instance: Any) -> bool:
        wanted = set(actions) - self.READ_ONLY_ACTIONS
        return bool(wanted) and super().user_has_any_permission_for_instance(user, wanted, instance)


suggestion_policy = ListingSuggestionPolicy(ListingSuggestion)
register_permission_policy(ListingSuggestion, suggestion_policy, exact_class=True)


class ListingSuggestionEditView(snippet_views.EditView):
    """Marking a suggestion applied or dismissed goes through the service (who and when)."""

    def save_instance(self) -> ListingSuggestion:
        stored = ListingSuggestion.objects.select_related("network").get(pk=self.form.instance.pk)
        suggestion = services.listing_suggestion_resolve(
            suggestion=stored,
            status=self.form.cleaned_data["status"],
            by=cast(User, self.request.user),
        )
        log(instance=suggestion, action="wagtail.edit", user=self.request.user)
        return suggestion


class ListingSuggestionViewSet(NetworkScopedSnippetViewSet):
    model = ListingSuggestion
    icon = "comment"
    menu_label = _("Listing suggestions")
    menu_order = 235
    add_to_admin_menu = True
    list_display = ["page", "field_name", "organization", "status", "created_at"]
    list_filter = ["status"]
    search_fields = ["text"]
    ordering = ["-created_at"]
    edit_view_class = ListingSuggestionEditView
    inspect_view_enabled = True
    edit_handler = ObjectList(
        [
            MultiFieldPanel(
                [
                    FieldPanel("page", read_only=True),
                    FieldPanel("field_name", read_only=True),
                    FieldPanel("text", read_only=True),
                    FieldPanel("organization", read_only=True),
                    FieldPanel("suggested_by", read_only=True),
                    FieldPanel("created_at", read_only=True),
                ],
                heading=_("Suggestion"),
            ),
            FieldPanel(
                "status",
                help_text=_(
                    "Edit the listing page itself (Pages), then mark the suggestion applied; "
                    "or dismiss it."
                ),
            ),
        ]
    )

    def get_queryset(self, request: HttpRequest) -> Any:
        return (
            super()
            .get_queryset(request)
            .select_related("page", "organization", "network", "suggested_by")
        )


register_snippet(ListingSuggestionViewSet)


register_permission_policy(HsdsFeed, feed_admin.feed_policy, exact_class=True)
register_snippet(feed_admin.HsdsFeedViewSet)


@hooks.register("before_edit_page")
def listing_feed_mark(request: HttpRequest, page: Any) -> None:
    """The editor says when a listing comes from a feed: the feed's next sync overwrites it."""
    if request.method != "GET":
        return
    mark = FeedListing.objects.filter(page_id=page.pk).select_related("feed").first()
    if mark is not None:
        messages.info(
            request,
            _(
                "This listing comes from the feed “%(feed)s”: its next sync replaces what is "
                "changed here. Change it at the source, or remove it from the feed."
            )
            % {"feed": mark.feed.name},
        )


@hooks.register("register_admin_urls")
def directory_admin_urls() -> list[URLPattern | URLResolver]:
    urls = [
        path("feeds/<int:pk>/syncs/", feed_admin.feed_runs, name="feed_runs"),
        path("feeds/<int:pk>/sync-now/", feed_admin.feed_sync_now, name="feed_sync_now"),
        path("feed-syncs/<int:pk>/", feed_admin.feed_run_detail, name="feed_run"),
        path("feed-syncs/<int:pk>/report.csv", feed_admin.feed_run_report, name="feed_run_report"),
        path("import/", admin_views.import_index, name="import_index"),
        path("import/<int:pk>/", admin_views.import_detail, name="import_detail"),
        path("import/<int:pk>/report.csv", admin_views.import_report, name="import_report"),
        path(
            "import/<int:pk>/valid-records/",
            admin_views.import_valid_records,
            name="import_valid_records",
        ),
        path("import/<int:pk>/cancel/", admin_views.import_cancel, name="import_cancel"),
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
