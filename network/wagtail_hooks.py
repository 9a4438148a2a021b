"""Wagtail admin: network admins manage their own networks' organizations; superusers, networks."""

from __future__ import annotations

from typing import Any, cast

from django import forms
from django.db.models import QuerySet
from django.http import HttpRequest
from django.urls import reverse
from django.utils.translation import gettext_lazy as _
from wagtail import hooks
from wagtail.admin.forms import WagtailAdminModelForm
from wagtail.admin.menu import MenuItem
from wagtail.admin.panels import FieldPanel, FieldRowPanel, MultiFieldPanel, ObjectList
from wagtail.log_actions import log
from wagtail.models import Page
from wagtail.permission_policies import ModelPermissionPolicy
from wagtail.permissions import register_permission_policy
from wagtail.snippets.models import register_snippet
from wagtail.snippets.views import snippets as snippet_views

from cms.categories import NEED_CHOICES, SENSITIVE_CATEGORY_CODES

from . import services
from .models import Network, Organization, User
from .permissions import (
    NetworkPerm,
    NetworkScopedPolicy,
    networks_with_perm,
    user_has_network_perm,
)
from .wagtail_scoping import (
    NetworkScopedSnippetViewSet,
    ScopedPageViewSet,
    admin_api_scoped,
    media_visible,
    pages_reachable,
    reports_menu_scoped,
)

organization_policy = NetworkScopedPolicy(Organization)
register_permission_policy(Organization, organization_policy, exact_class=True)


class OrganizationForm(WagtailAdminModelForm):
    """Offers only the networks the editing user administers."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        user = self.for_user
        if "network" in self.fields and user is not None and not user.is_superuser:
            self.fields["network"].queryset = networks_with_perm(user, NetworkPerm.ADMINISTER)
        if self.instance.pk and "network" in self.fields:
            self.fields["network"].disabled = True


class OrganizationCreateView(snippet_views.CreateView):
    def save_instance(self) -> Organization:
        data = dict(self.form.cleaned_data)
        organization = services.organization_create(
            network=data.pop("network"),
            name=data.pop("name"),
            kind=data.pop("kind"),
            slug=data.pop("slug"),
            by=cast(User, self.request.user),
            **data,
        )
        log(
            instance=organization,
            action="wagtail.create",
            user=self.request.user,
            content_changed=True,
        )
        return organization


class OrganizationEditView(snippet_views.EditView):
    def save_instance(self) -> Organization:
        data = {k: v for k, v in self.form.cleaned_data.items() if k not in {"network", "slug"}}
        # The form already applied the changes to the instance; reload so the service sees the
        # stored state and applies (and validates) the change itself.
        stored = Organization.objects.get(pk=self.form.instance.pk)
        organization = services.organization_update(
            organization=stored, by=cast(User, self.request.user), **data
        )
        log(
            instance=organization,
            action="wagtail.edit",
            user=self.request.user,
            content_changed=True,
        )
        return organization


class OrganizationViewSet(NetworkScopedSnippetViewSet):
    model = Organization
    icon = "group"
    menu_label = _("Organizations")
    menu_order = 200
    add_to_admin_menu = True
    list_display = ["name", "kind", "city", "network", "is_active"]
    list_filter = ["kind", "is_active"]
    search_fields = ["name", "city"]
    add_view_class = OrganizationCreateView
    edit_view_class = OrganizationEditView
    inspect_view_enabled = True
    edit_handler = ObjectList(
        [
            MultiFieldPanel(
                [
                    FieldPanel("network"),
                    FieldPanel("name"),
                    FieldPanel("slug"),
                    FieldPanel("kind"),
                    FieldPanel("is_active"),
                ],
                heading=_("Organization"),
            ),
            FieldPanel("description"),
            MultiFieldPanel(
                [FieldRowPanel([FieldPanel("phone"), FieldPanel("email")]), FieldPanel("website")],
                heading=_("Contact"),
            ),
            MultiFieldPanel(
                [
                    FieldPanel("address_1"),
                    FieldRowPanel(
                        [FieldPanel("city"), FieldPanel("state"), FieldPanel("postal_code")]
                    ),
                ],
                heading=_("Address"),
            ),
        ],
        base_form_class=OrganizationForm,
    )

    def get_queryset(self, request: HttpRequest) -> QuerySet[Organization]:
        return super().get_queryset(request).select_related("network")


class NetworkPolicy(ModelPermissionPolicy):
    """Networks are edited here but created (with their site) by ``manage.py network_create``."""

    def user_has_permission(self, user: Any, action: str) -> bool:
        if action in {"add", "delete", "copy"}:
            return False
        return bool(super().user_has_permission(user, action))


register_permission_policy(Network, NetworkPolicy(Network), exact_class=True)


class NetworkForm(WagtailAdminModelForm):
    sensitive_categories = forms.MultipleChoiceField(
        label=_("Also sensitive"),
        help_text=_(
            "Besides interpersonal safety: shared only with organizations a consent names for "
            "them, never network-wide."
        ),
        choices=[
            (code, name) for code, name in NEED_CHOICES if code not in SENSITIVE_CATEGORY_CODES
        ],
        widget=forms.CheckboxSelectMultiple,
        required=False,
    )


class NetworkViewSet(NetworkScopedSnippetViewSet):
    """Networks are created and configured by the platform operator (superusers) only."""

    model = Network
    icon = "site"
    menu_label = _("Networks")
    menu_order = 210
    add_to_admin_menu = True
    list_display = ["name", "slug", "time_zone", "site"]
    edit_handler = ObjectList(
        [
            FieldPanel("name"),
            FieldPanel("time_zone"),
            FieldPanel("verification_interval_days"),
            MultiFieldPanel(
                [FieldPanel("consent_days"), FieldPanel("sensitive_categories")],
                heading=_("Consent"),
            ),
        ],
        base_form_class=NetworkForm,
    )


register_snippet(OrganizationViewSet)
register_snippet(NetworkViewSet)


class NetworkAdminMenuItem(MenuItem):
    """Shown to the admins of the network the user is acting in."""

    def is_shown(self, request: HttpRequest) -> bool:
        membership = getattr(request, "membership", None)
        if membership is None:
            return False
        return user_has_network_perm(request.user, NetworkPerm.ADMINISTER, membership.network)


@hooks.register("register_admin_menu_item")
def members_menu_item() -> MenuItem:
    return NetworkAdminMenuItem(
        _("Members and roles"), reverse("network:network_overview"), icon_name="user", order=220
    )


# --- the tenant everywhere in the admin: pages, documents, images, the admin API ---------------


@hooks.register("construct_page_chooser_queryset")
def page_chooser_scoped(pages: QuerySet[Page], request: HttpRequest) -> QuerySet[Page]:
    return pages_reachable(user=request.user, queryset=pages)


@hooks.register("construct_explorer_page_queryset")
def explorer_scoped(parent: Page, pages: QuerySet[Page], request: HttpRequest) -> QuerySet[Page]:
    return pages_reachable(user=request.user, queryset=pages)


@hooks.register("construct_document_chooser_queryset")
def document_chooser_scoped(documents: QuerySet[Any], request: HttpRequest) -> QuerySet[Any]:
    return documents.filter(pk__in=media_visible(user=request.user, model=documents.model))


@hooks.register("construct_image_chooser_queryset")
def image_chooser_scoped(images: QuerySet[Any], request: HttpRequest) -> QuerySet[Any]:
    return images.filter(pk__in=media_visible(user=request.user, model=images.model))


# After Wagtail's own registrations (order 0), so the scoped endpoints and page views replace
# Wagtail's defaults.
hooks.register("construct_admin_api", admin_api_scoped, order=1)
hooks.register("construct_reports_menu", reports_menu_scoped)


@hooks.register("register_admin_viewset", order=1)
def page_viewset_scoped() -> ScopedPageViewSet:
    return ScopedPageViewSet()
