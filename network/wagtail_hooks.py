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

from . import services, smart
from .models import ApiClient, Network, Organization, User
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


# --- systems (SMART Backend Services clients) ---------------------------------------------------

register_permission_policy(ApiClient, NetworkScopedPolicy(ApiClient), exact_class=True)


class ApiClientForm(WagtailAdminModelForm):
    """A system's registration: the organization it acts for, its public keys and scopes.

    The keys are a JSON Web Key Set pasted as text; the scopes one per line (or spaces)."""

    jwks = forms.JSONField(
        label=_("Public keys (JWKS)"),
        help_text=_(
            'The system\'s JSON Web Key Set: {"keys": [ … ]}, public RS384 or ES384 keys, each '
            "with a kid. Never a private key."
        ),
        widget=forms.Textarea(attrs={"rows": 8}),
    )
    scopes = forms.CharField(
        label=_("Scopes allowed"),
        help_text=_("SMART system scopes, e.g. system/Task.cruds system/Patient.rs"),
        widget=forms.Textarea(attrs={"rows": 3}),
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        user = self.for_user
        administered = (
            Network.objects.all()
            if user is None or user.is_superuser
            else networks_with_perm(user, NetworkPerm.ADMINISTER)
        )
        if "network" in self.fields:
            self.fields["network"].queryset = administered
        if "organization" in self.fields:
            self.fields["organization"].queryset = Organization.objects.filter(
                network__in=administered, is_active=True
            )
        if self.instance.pk:
            for name in ("network", "organization", "name", "role"):
                if name in self.fields:
                    self.fields[name].disabled = True
            self.initial["scopes"] = " ".join(self.instance.scopes)

    # The service's own checks, so that a refusal is shown on the form (not raised on save).
    def clean_jwks(self) -> dict[str, Any]:
        try:
            return smart.jwks_checked(self.cleaned_data["jwks"])
        except forms.ValidationError as exc:
            raise forms.ValidationError(exc.message_dict.get("jwks", exc.messages)) from exc

    def clean_scopes(self) -> list[str]:
        try:
            return smart.scopes_checked(self.cleaned_data["scopes"].split())
        except forms.ValidationError as exc:
            raise forms.ValidationError(exc.message_dict.get("scopes", exc.messages)) from exc

    def clean(self) -> dict[str, Any]:
        cleaned: dict[str, Any] = super().clean()
        organization, role = cleaned.get("organization"), cleaned.get("role")
        if not self.instance.pk and organization is not None and role:
            try:
                smart.role_checked(organization, role)
            except forms.ValidationError as exc:
                self.add_error("role", exc.message_dict.get("role", exc.messages))
        network = cleaned.get("network")
        if (
            organization is not None
            and network is not None
            and organization.network_id != network.pk
        ):
            self.add_error("organization", _("The organization belongs to another network."))
        return cleaned


class ApiClientCreateView(snippet_views.CreateView):
    def save_instance(self) -> ApiClient:
        data = self.form.cleaned_data
        client = smart.api_client_register(
            network=data["network"],
            organization=data["organization"],
            name=data["name"],
            role=data["role"],
            jwks=data["jwks"],
            scopes=data["scopes"],
            by=cast(User, self.request.user),
        )
        log(instance=client, action="wagtail.create", user=self.request.user, content_changed=True)
        return client


class ApiClientEditView(snippet_views.EditView):
    def save_instance(self) -> ApiClient:
        data = self.form.cleaned_data
        stored = ApiClient.objects.get(pk=self.form.instance.pk)
        client = smart.api_client_update(
            client=stored,
            by=cast(User, self.request.user),
            jwks=data["jwks"],
            scopes=data["scopes"],
            is_active=data["is_active"],
        )
        log(instance=client, action="wagtail.edit", user=self.request.user, content_changed=True)
        return client


class ApiClientViewSet(NetworkScopedSnippetViewSet):
    """Network admins register the systems (EHRs) that sign in to their network's FHIR API."""

    model = ApiClient
    icon = "code"
    menu_label = _("Systems (FHIR)")
    menu_order = 205
    add_to_admin_menu = True
    list_display = ["name", "organization", "client_id", "is_active"]
    list_filter = ["is_active"]
    search_fields = ["name"]
    add_view_class = ApiClientCreateView
    edit_view_class = ApiClientEditView
    inspect_view_enabled = True
    inspect_view_fields = ["name", "client_id", "organization", "role", "scopes", "is_active"]
    edit_handler = ObjectList(
        [
            FieldPanel("network"),
            FieldPanel("organization"),
            FieldPanel("name"),
            FieldPanel("role"),
            FieldPanel("jwks"),
            FieldPanel("scopes"),
            FieldPanel("is_active"),
        ],
        base_form_class=ApiClientForm,
    )

    def get_queryset(self, request: HttpRequest) -> QuerySet[ApiClient]:
        return super().get_queryset(request).select_related("organization")


register_snippet(ApiClientViewSet)
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
