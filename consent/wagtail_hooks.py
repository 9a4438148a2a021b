"""Wagtail admin: network admins manage their networks' data-sharing agreements.

Agreements are versioned: a draft can be edited and activated (which supersedes the version in
force for the same agency and clinic); an active one can only be terminated or copied into the
next draft version. Writes go through ``consent.services``.
"""

from __future__ import annotations

from typing import Any, cast

from django import forms
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse
from django.urls import URLPattern, path, reverse
from django.utils.translation import gettext_lazy as _
from wagtail import hooks
from wagtail.admin.forms import WagtailAdminModelForm
from wagtail.admin.menu import MenuItem
from wagtail.admin.panels import FieldPanel, FieldRowPanel, InlinePanel, MultiFieldPanel, ObjectList
from wagtail.log_actions import log
from wagtail.permissions import register_permission_policy
from wagtail.snippets.models import register_snippet
from wagtail.snippets.views import snippets as snippet_views

from network.models import Organization, OrganizationKind, User
from network.permissions import NetworkPerm, NetworkScopedPolicy, networks_with_perm
from network.wagtail_scoping import NetworkAdminsMenuItem, NetworkScopedSnippetViewSet

from . import admin_views, services
from .models import AgreementStatus, ClientField, DataSharingAgreement
from .selectors import (
    agreements_readable,
    document_readable,
    documents_of_network,
    documents_of_networks,
)


class AgreementPolicy(NetworkScopedPolicy):
    """Network admins' agreements; never deleted, since referrals keep the version they were
    sent under (terminate instead)."""

    def user_has_permission(self, user: Any, action: str) -> bool:
        return action != "delete" and super().user_has_permission(user, action)

    def user_has_permission_for_instance(self, user: Any, action: str, instance: Any) -> bool:
        return action != "delete" and super().user_has_permission_for_instance(
            user, action, instance
        )

    def user_has_any_permission_for_instance(self, user: Any, actions: Any, instance: Any) -> bool:
        actions = [a for a in actions if a != "delete"]
        return bool(actions) and super().user_has_any_permission_for_instance(
            user, actions, instance
        )


agreement_policy = AgreementPolicy(DataSharingAgreement)
register_permission_policy(DataSharingAgreement, agreement_policy, exact_class=True)

ACTION_SAVE = "save"
ACTION_ACTIVATE = "activate"
ACTION_TERMINATE = "terminate"


class AgreementForm(WagtailAdminModelForm):
    """Agencies and clinics of the networks the user administers; client fields as checkboxes;
    what happens on save (keep as draft, activate, terminate)."""

    action = forms.ChoiceField(label=_("On save"), choices=[], initial=ACTION_SAVE)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # The model field is named "fields", so it is replaced here rather than declared.
        self.fields["fields"] = forms.MultipleChoiceField(
            label=_("Client data the agency may receive"),
            choices=ClientField.choices,
            widget=forms.CheckboxSelectMultiple,
            required=False,
            initial=self.instance.fields if self.instance.pk else [],
        )
        user = self.for_user
        organizations = Organization.objects.filter(is_active=True)
        if user is not None and not user.is_superuser:
            organizations = organizations.filter(
                network__in=networks_with_perm(user, NetworkPerm.ADMINISTER)
            )
        self.fields["agency"].queryset = organizations.exclude(kind=OrganizationKind.CLINIC)
        self.fields["clinic"].queryset = organizations.exclude(kind=OrganizationKind.AGENCY)
        # Only a document of a network the user administers may be attached (the rule itself is
        # checked again in clean() against the agency's network, and in the service).
        if user is not None and not user.is_superuser:
            self.fields["document"].queryset = documents_of_networks(
                networks=networks_with_perm(user, NetworkPerm.ADMINISTER)
            )
        status = self.instance.status if self.instance.pk else AgreementStatus.DRAFT
        if status == AgreementStatus.DRAFT:
            choices = [
                (ACTION_SAVE, _("Keep as a draft")),
                (ACTION_ACTIVATE, _("Activate (supersedes the agreement in force)")),
            ]
        else:
            choices = [(ACTION_SAVE, _("Change nothing")), (ACTION_TERMINATE, _("Terminate"))]
            # An agreement in force is a signed document: copy it into a new draft to change it.
            for name, field in self.fields.items():
                if name != "action":
                    field.disabled = True
        self.fields["action"].choices = choices
        if self.instance.pk:
            self.fields["agency"].disabled = True
            self.fields["clinic"].disabled = True

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        agency, clinic = data.get("agency"), data.get("clinic")
        if agency is not None and clinic is not None and agency.network_id != clinic.network_id:
            raise ValidationError({"clinic": _("The clinic belongs to another network.")})
        if agency is not None:
            self.instance.network = agency.network
        document = data.get("document")
        if (
            agency is not None
            and document is not None
            and not documents_of_network(network=agency.network).filter(pk=document.pk).exists()
        ):
            self.add_error(
                "document", _("This document belongs to another network; upload it here.")
            )
        return data


class AgreementCreateView(snippet_views.CreateView):
    def save_instance(self) -> DataSharingAgreement:
        data = self.form.cleaned_data
        user = cast(User, self.request.user)
        agreement = services.agreement_create(
            by=user,
            agency=data["agency"],
            clinic=data.get("clinic"),
            fields=data.get("fields") or [],
            effective_from=data["effective_from"],
            effective_to=data.get("effective_to"),
            response_hours=data["response_hours"],
            outcome_days=data["outcome_days"],
        )
        # Signatories and the document come from the form's inline and chooser.
        self.form.instance = agreement
        if data.get("document") is not None:
            agreement = services.agreement_document_attach(
                agreement=agreement, document=data["document"], by=user
            )
        for formset in self.form.formsets.values():
            formset.instance = agreement
            formset.save()
        if data.get("action") == ACTION_ACTIVATE:
            agreement = services.agreement_activate(agreement=agreement, by=user)
        log(instance=agreement, action="wagtail.create", user=user, content_changed=True)
        return agreement


class AgreementEditView(snippet_views.EditView):
    def save_instance(self) -> DataSharingAgreement:
        user = cast(User, self.request.user)
        action = self.form.cleaned_data.get("action")
        stored = DataSharingAgreement.objects.get(pk=self.form.instance.pk)
        if stored.status == AgreementStatus.DRAFT:
            agreement = self.form.save()
            # Moves the document into the network's private agreements collection.
            agreement = services.agreement_document_attach(
                agreement=agreement, document=self.form.cleaned_data.get("document"), by=user
            )
            if action == ACTION_ACTIVATE:
                agreement = services.agreement_activate(agreement=agreement, by=user)
        elif action == ACTION_TERMINATE:
            agreement = services.agreement_terminate(agreement=stored, by=user)
        else:
            agreement = stored
        log(instance=agreement, action="wagtail.edit", user=user, content_changed=True)
        return agreement


class AgreementViewSet(NetworkScopedSnippetViewSet):
    model = DataSharingAgreement
    icon = "doc-full"
    menu_label = _("Data-sharing agreements")
    menu_order = 205
    add_to_admin_menu = True
    list_display = ["agency", "clinic", "version", "status", "effective_from", "effective_to"]
    list_filter = ["status"]
    search_fields = ["agency__name"]
    add_view_class = AgreementCreateView
    edit_view_class = AgreementEditView
    inspect_view_enabled = True
    edit_handler = ObjectList(
        [
            FieldRowPanel([FieldPanel("agency"), FieldPanel("clinic")]),
            FieldRowPanel([FieldPanel("effective_from"), FieldPanel("effective_to")]),
            FieldPanel("fields"),
            FieldRowPanel([FieldPanel("response_hours"), FieldPanel("outcome_days")]),
            MultiFieldPanel(
                [FieldPanel("document"), InlinePanel("signatories", label=_("Signatories"))],
                heading=_("Signatures"),
            ),
            FieldPanel("action"),
        ],
        base_form_class=AgreementForm,
    )

    def get_queryset(self, request: HttpRequest) -> QuerySet[DataSharingAgreement]:
        return super().get_queryset(request).select_related("agency", "clinic")


register_snippet(AgreementViewSet)


# --- signed agreements: private documents -----------------------------------------------------

AGREEMENT_DOWNLOAD_ACTION = "consent.agreement.document_download"


@hooks.register("register_log_actions")
def agreement_log_actions(actions: Any) -> None:
    actions.register_action(
        AGREEMENT_DOWNLOAD_ACTION,
        _("Download the signed agreement"),
        _("Signed agreement downloaded"),
    )


@hooks.register("before_serve_document", order=-100)
def document_serve_check(document: Any, request: HttpRequest) -> HttpResponse | None:
    """Every document (signed agreements above all) is private. Checked before Wagtail's own
    collection restrictions (so nobody else even sees their password form), the serving goes on
    only for whom ``document_readable`` allows; anyone else gets 404 (the sign-in page when not
    signed in). A signed agreement's download is written to the agreement's history.
    (``consent.views.document_download`` serves it.)"""
    user = request.user
    if not user.is_authenticated:
        return redirect_to_login(request.get_full_path())
    if not document_readable(user=user, document=document):
        raise Http404
    readable = agreements_readable(user=user).filter(document=document)
    for agreement in readable:
        log(instance=agreement, action=AGREEMENT_DOWNLOAD_ACTION, user=user)
    return None


@hooks.register("register_admin_urls")
def access_log_admin_urls() -> list[URLPattern]:
    return [path("access-log/", admin_views.access_log_page, name="access_log")]


@hooks.register("register_admin_menu_item")
def access_log_menu_item() -> MenuItem:
    return NetworkAdminsMenuItem(
        _("Access log"), reverse("access_log"), icon_name="view", order=216
    )
