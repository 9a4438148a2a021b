"""Every write to consents and data-sharing agreements: one transaction per function."""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING, Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import UploadedFile
from django.db import connection, transaction
from django.db.models import Max
from django.db.models.functions import Coalesce
from django.utils import timezone
from django.utils.translation import gettext as _
from wagtail.models import Collection
from wagtail.models import UploadedFile as WagtailUpload

from cms.storage import private_storage
from directory.models import DirectoryImport
from network.models import Network, Organization, User
from network.permissions import (
    NetworkPerm,
    OrgPerm,
    user_has_network_perm,
    user_has_org_perm,
)

from .files import signed_form_type, signed_form_upload_to
from .models import (
    SDOH_CODES,
    AccessLog,
    AgreementStatus,
    ClientField,
    Consent,
    ConsentMethod,
    ConsentPolicy,
    DataSharingAgreement,
    agreement_fields,
)

if TYPE_CHECKING:
    # Types only: consent sits below the referral loop and never imports it at run time.
    from referrals.models import Client

from .selectors import documents_of_network, network_collections
from .signals import consent_revoked

# How a signed form's download reads in the client's accounting of disclosures.
SIGNED_FORM_FIELD = "signed_form"
SIGNED_FORM_DOWNLOAD = "signed_form_download"


@transaction.atomic
def consent_record(
    *,
    client: Client,
    by: User,
    organization: Organization,
    categories: Iterable[str],
    method: str,
    whole_network: bool = False,
    recipients: Iterable[Organization] = (),
    sensitive_recipients: Iterable[Organization] = (),
    attestation: str = "",
    signature: str = "",
    signed_form: UploadedFile | None = None,
    policy: str = ConsentPolicy.HIPAA,
    granted_at: datetime | None = None,
    expires_at: datetime | None = None,
) -> Consent:
    """Record a client's consent, given to staff of ``organization`` (the client's clinic).

    Raises ValidationError naming every problem; nothing is written then.
    """
    if client.organization_id != organization.pk or not user_has_org_perm(
        by, OrgPerm.SEND_REFERRALS, organization
    ):
        raise PermissionDenied(_("Only the client's clinic may record their consent."))
    network = client.network
    granted_at = granted_at or timezone.now()
    expires_at = expires_at or granted_at + timedelta(days=network.consent_days)
    categories = sorted(set(categories))
    recipients = list(recipients)
    sensitive_recipients = list(sensitive_recipients)
    errors: dict[str, list[str]] = {}
    form_extension = ""

    def problem(field: str, message: str) -> None:
        errors.setdefault(field, []).append(message)

    if not categories:
        problem("categories", _("Choose at least one need the consent covers."))
    unknown = [c for c in categories if c not in SDOH_CODES]
    if unknown:
        problem("categories", _("Unknown needs: %(codes)s.") % {"codes": ", ".join(unknown)})
    if not whole_network and not recipients:
        problem("recipients", _("Name the organizations, or allow the whole network."))
    for org in [*recipients, *sensitive_recipients]:
        if org.network_id != network.pk:
            problem("recipients", _("%(org)s is in another network.") % {"org": org})
    sensitive = network.sensitive_category_codes()
    if sensitive_recipients and not sensitive.intersection(categories):
        problem(
            "sensitive_recipients",
            _("Sensitive recipients are named but no sensitive need is covered."),
        )
    if method not in ConsentMethod.values:
        problem("method", _("Choose how the consent was given."))
    elif method == ConsentMethod.VERBAL and not attestation.strip():
        problem("attestation", _("Record the wording read to the client."))
    elif method == ConsentMethod.ELECTRONIC and not signature.strip():
        problem("signature", _("The client must type their name to sign."))
    elif method == ConsentMethod.SIGNED_FORM and signed_form is None:
        problem("signed_form", _("Upload the signed form."))
    elif method == ConsentMethod.SIGNED_FORM and signed_form is not None:
        try:
            form_extension = signed_form_type(signed_form)
        except ValidationError as exc:
            errors.setdefault("signed_form", []).extend(exc.messages)
    if policy not in ConsentPolicy.values:
        problem("policy", _("Unknown consent policy."))
    if expires_at <= granted_at:
        problem("expires_at", _("The consent must end after it starts."))
    if errors:
        raise ValidationError(errors)

    consent = Consent.objects.create(
        network=network,
        client=client,
        whole_network=whole_network,
        categories=categories,
        method=method,
        attestation=attestation.strip() if method == ConsentMethod.VERBAL else "",
        signature=signature.strip() if method == ConsentMethod.ELECTRONIC else "",
        policy=policy,
        granted_at=granted_at,
        expires_at=expires_at,
        recorded_by=by,
        recorded_for=organization,
    )
    if signed_form is not None and method == ConsentMethod.SIGNED_FORM:
        # Stored under a random name with the extension its content shows; the name given on
        # upload is kept only as the download's file name.
        consent.signed_form_name = _download_name(signed_form.name, form_extension)
        consent.signed_form.save(f"form.{form_extension}", signed_form, save=False)
        consent.save(update_fields=["signed_form", "signed_form_name"])
    consent.recipients.set(recipients)
    consent.sensitive_recipients.set(sensitive_recipients)
    return consent


def _download_name(name: str | None, extension: str) -> str:
    stem = os.path.splitext(os.path.basename(name or ""))[0].strip()[:200] or "consent-form"
    return f"{stem}.{extension}"


def signed_form_download(
    *,
    consent: Consent,
    by: User,
    organization: Organization,
    ip_address: str | None = None,
    user_agent: str = "",
) -> AccessLog:
    """Log that ``by``, for ``organization``, downloaded the consent's signed form (call after
    checking access with ``consent.selectors.signed_forms_visible``)."""
    return AccessLog.objects.create(
        network_id=consent.network_id,
        user=by,
        organization=organization,
        client_id=consent.client_id,
        fields=[SIGNED_FORM_FIELD],
        purpose=SIGNED_FORM_DOWNLOAD,
        ip_address=ip_address,
        user_agent=user_agent[:300],
    )


@transaction.atomic
def consent_revoke(*, consent: Consent, by: User, reason: str) -> Consent:
    """Revoke a consent now: every open referral that relied on it stops disclosing at once
    (disclosure checks the consent on every view) and its timeline records the revocation
    (``consent_revoked``, handled by the referral loop)."""
    consent = Consent.objects.select_for_update().get(pk=consent.pk)
    if not user_has_org_perm(by, OrgPerm.SEND_REFERRALS, consent.recorded_for):
        raise PermissionDenied(_("Only the client's clinic may revoke their consent."))
    if consent.revoked_at is not None:
        raise ValidationError(_("This consent was already revoked."))
    if not reason.strip():
        raise ValidationError({"reason": _("Give the reason for revoking.")})
    consent.revoked_at = timezone.now()
    consent.revoked_by = by
    consent.revoked_reason = reason.strip()
    consent.save(update_fields=["revoked_at", "revoked_by", "revoked_reason"])
    consent_revoked.send(sender=Consent, consent=consent, by=by)
    return consent


# --- agreements ------------------------------------------------------------------------------


def _check_admin(by: User, network: Network) -> None:
    if not (by.is_superuser or user_has_network_perm(by, NetworkPerm.ADMINISTER, network)):
        raise PermissionDenied(_("Only the network's admins manage data-sharing agreements."))


@transaction.atomic
def agreement_create(
    *,
    by: User,
    agency: Organization,
    fields: Iterable[str],
    effective_from: date,
    effective_to: date | None = None,
    clinic: Organization | None = None,
    response_hours: int = 16,
    outcome_days: int = 30,
) -> DataSharingAgreement:
    """A draft agreement, numbered as the next version of its scope (agency, clinic)."""
    network = agency.network
    _check_admin(by, network)
    agreement = DataSharingAgreement(
        network=network,
        agency=agency,
        clinic=clinic,
        fields=agreement_fields(fields),
        effective_from=effective_from,
        effective_to=effective_to,
        response_hours=response_hours,
        outcome_days=outcome_days,
        version=_next_version(agency, clinic),
    )
    agreement.full_clean()
    agreement.save()
    return agreement


def _next_version(agency: Organization, clinic: Organization | None) -> int:
    last = (
        DataSharingAgreement.objects.filter(agency=agency, clinic=clinic)
        .aggregate(last=Coalesce(Max("version"), 0))
        .get("last")
    )
    return int(last or 0) + 1


@transaction.atomic
def agreement_activate(*, agreement: DataSharingAgreement, by: User) -> DataSharingAgreement:
    """Make a draft the agreement in force for its scope; the one before is superseded."""
    _check_admin(by, agreement.network)
    agreement = DataSharingAgreement.objects.select_for_update().get(pk=agreement.pk)
    if agreement.status != AgreementStatus.DRAFT:
        raise ValidationError(_("Only a draft agreement can be activated."))
    agreement.full_clean()
    unknown = set(agreement.fields) - set(ClientField.values)
    if unknown:
        raise ValidationError({"fields": _("Unknown client fields.")})
    DataSharingAgreement.objects.filter(
        agency=agreement.agency_id, clinic=agreement.clinic_id, status=AgreementStatus.ACTIVE
    ).update(status=AgreementStatus.SUPERSEDED, updated_at=timezone.now())
    agreement.status = AgreementStatus.ACTIVE
    agreement.save(update_fields=["status", "updated_at"])
    return agreement


@transaction.atomic
def agreement_terminate(*, agreement: DataSharingAgreement, by: User) -> DataSharingAgreement:
    """End an agreement: the agency receives no new electronic referrals under it."""
    _check_admin(by, agreement.network)
    agreement = DataSharingAgreement.objects.select_for_update().get(pk=agreement.pk)
    if agreement.status in {AgreementStatus.SUPERSEDED, AgreementStatus.TERMINATED}:
        raise ValidationError(_("This agreement has already ended."))
    agreement.status = AgreementStatus.TERMINATED
    agreement.save(update_fields=["status", "updated_at"])
    return agreement


AGREEMENTS_COLLECTION_NAME = "Signed agreements"


@transaction.atomic
def agreement_collection(*, network: Network) -> Collection:
    """The network's private collection for signed agreements, made on first use under the
    network's own collection (so only its admins manage it in the Wagtail admin)."""
    parent = next((c for c in network_collections(network=network) if c.depth > 1), None)
    if parent is None:
        raise ValidationError(
            {"document": _("This network has no document collection; ask the operator.")}
        )
    existing = parent.get_children().filter(name=AGREEMENTS_COLLECTION_NAME).first()
    return existing or parent.add_child(name=AGREEMENTS_COLLECTION_NAME)


@transaction.atomic
def agreement_document_attach(
    *, agreement: DataSharingAgreement, document: Any | None, by: User
) -> DataSharingAgreement:
    """Attach the signed agreement (a Wagtail document of the agreement's network, which is
    moved into the network's private agreements collection), or detach it with None.

    Raises ValidationError for a document of another network, PermissionDenied for anyone but
    the network's admins."""
    _check_admin(by, agreement.network)
    if document is not None:
        if not documents_of_network(network=agreement.network).filter(pk=document.pk).exists():
            raise ValidationError(
                {"document": _("This document belongs to another network; upload it here.")}
            )
        collection = agreement_collection(network=agreement.network)
        if document.collection_id != collection.pk:
            document.collection = collection
            document.save(update_fields=["collection"])
    if agreement.document_id != (document.pk if document is not None else None):
        agreement.document = document
        agreement.save(update_fields=["document", "updated_at"])
    return agreement


# --- moving files uploaded before private storage ---------------------------------------------


@dataclass
class FilesMoved:
    """What ``private_files_move`` did: names moved, already private, and missing (kept as is)."""

    moved: list[str] = field(default_factory=list)
    already_private: int = 0
    missing: list[str] = field(default_factory=list)


def private_files_move(*, dry_run: bool = False) -> FilesMoved:
    """Move signed consent forms, Wagtail documents (signed agreements), Wagtail uploads in
    progress and directory import packages still in the public media storage into the private
    storage under random names.

    Each file is copied, its row updated in a transaction, and only then the public copy is
    deleted: an interrupted run loses nothing and a second run finishes the job. A file found in
    neither storage is reported and its row left unchanged.
    """
    from wagtail.documents import get_document_model

    public, private = default_storage, private_storage()
    report = FilesMoved()

    def move(name: str, new_name: str, update: Any) -> None:
        if private.exists(name):
            report.already_private += 1
            return
        if not public.exists(name):
            report.missing.append(name)
            return
        report.moved.append(name)
        if dry_run:
            return
        with public.open(name, "rb") as source:
            stored = private.save(new_name, source)
        with transaction.atomic():
            update(stored)
        transaction.on_commit(lambda: public.delete(name))

    for consent in Consent.objects.exclude(signed_form="").order_by("pk"):
        name = consent.signed_form.name or ""
        extension = os.path.splitext(name)[1].lstrip(".").lower() or "bin"

        def update_consent(stored: str, consent: Consent = consent, name: str = name) -> None:
            Consent.objects.filter(pk=consent.pk, signed_form=name).update(
                signed_form=stored,
                signed_form_name=consent.signed_form_name or os.path.basename(name)[:255],
            )

        move(name, signed_form_upload_to(consent, f"form.{extension}"), update_consent)

    # Signed agreements, Wagtail uploads in progress and directory import packages.
    for model, field_name, folder in (
        (get_document_model(), "file", "documents"),
        (WagtailUpload, "file", "wagtail_uploads"),
        (DirectoryImport, "upload", "directory-imports"),
    ):
        for row in model.objects.exclude(**{field_name: ""}).order_by("pk"):
            name = getattr(row, field_name).name or ""
            extension = os.path.splitext(name)[1].lstrip(".").lower() or "bin"

            def update_row(
                stored: str,
                model: Any = model,
                field_name: str = field_name,
                row: Any = row,
                name: str = name,
            ) -> None:
                model.objects.filter(pk=row.pk, **{field_name: name}).update(**{field_name: stored})

            move(name, f"{folder}/{uuid.uuid4().hex}.{extension}", update_row)
    return report


# One row per (client, referral) pair of two arrays; every other column is the same for all.
ACCESS_LOG_INSERT = (
    "INSERT INTO consent_accesslog (at, network_id, user_id, organization_id, client_id, "
    "referral_id, fields, purpose, ip_address, user_agent) "
    "SELECT %s, %s, %s, %s, seen.client_id, seen.referral_id, %s::jsonb, %s, %s::inet, %s "
    "FROM unnest(%s::bigint[], %s::bigint[]) AS seen (client_id, referral_id)"
)


def access_log_write(
    *,
    user: User,
    organization: Organization | None,
    purpose: str,
    fields: Sequence[str],
    seen: Iterable[tuple[int, int | None]],
    ip_address: str | None,
    user_agent: str = "",
    at: datetime | None = None,
    network: Network | None = None,
) -> int:
    """Log that ``user``, acting for ``organization`` (None: for ``network``'s administration),
    saw ``fields`` of each client in ``seen`` ((client id, referral id or None) pairs, one row
    each), in one INSERT whatever their number (a page of a list costs one query). Returns the
    number of rows written.

    Every page that shows client data calls this, so it is kept cheap: on PostgreSQL the rows
    go in as one ``INSERT … SELECT FROM unnest(…)`` with no model instances built (a tracker
    page of 25 rows took 6 ms through ``bulk_create``, 2 ms this way)."""
    pairs = list(seen)
    if not pairs:
        return 0
    if organization is not None:
        network_id = organization.network_id
    elif network is not None:
        network_id = network.pk
    else:
        raise ValueError("access_log_write needs the organization or, for admins, the network")
    at = at or timezone.now()
    codes = sorted(set(fields))
    user_agent = user_agent[:300]
    if connection.vendor != "postgresql":
        AccessLog.objects.bulk_create(
            AccessLog(
                at=at,
                network_id=network_id,
                user=user,
                organization=organization,
                client_id=client_id,
                referral_id=referral_id,
                fields=codes,
                purpose=purpose,
                ip_address=ip_address,
                user_agent=user_agent,
            )
            for client_id, referral_id in pairs
        )
        return len(pairs)
    with connection.cursor() as cursor:
        cursor.execute(
            ACCESS_LOG_INSERT,
            [
                at,
                network_id,
                user.pk if user else None,
                organization.pk if organization else None,
                json.dumps(codes),
                purpose,
                ip_address,
                user_agent,
                [client_id for client_id, _referral in pairs],
                [referral_id for _client, referral_id in pairs],
            ],
        )
    return len(pairs)
