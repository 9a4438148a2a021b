"""Every write to consents and data-sharing agreements: one transaction per function."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date, datetime, timedelta

from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files.uploadedfile import UploadedFile
from django.db import transaction
from django.db.models import Max
from django.db.models.functions import Coalesce
from django.utils import timezone
from django.utils.translation import gettext as _

from network.models import Client, Network, Organization, User
from network.permissions import (
    NetworkPerm,
    OrgPerm,
    user_has_network_perm,
    user_has_org_perm,
)

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
        consent.signed_form.save(signed_form.name or "consent.pdf", signed_form, save=True)
    consent.recipients.set(recipients)
    consent.sensitive_recipients.set(sensitive_recipients)
    return consent


@transaction.atomic
def consent_revoke(*, consent: Consent, by: User, reason: str) -> Consent:
    """Revoke a consent now: every open referral that relied on it stops disclosing at once
    (disclosure checks the consent on every view) and its timeline records the revocation."""
    from network.services import referrals_consent_withdrawn

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
    referrals_consent_withdrawn(consent=consent, by=by, expired=False)
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


def access_log_write(
    *,
    user: User,
    organization: Organization,
    purpose: str,
    fields: Sequence[str],
    seen: Iterable[tuple[int, int | None]],
    ip_address: str | None,
    user_agent: str = "",
    at: datetime | None = None,
) -> list[AccessLog]:
    """Log that ``user``, acting for ``organization``, saw ``fields`` of each client in
    ``seen`` ((client id, referral id or None) pairs, one row each), in one INSERT whatever
    their number (a page of a list costs one query). Returns the rows written."""
    at = at or timezone.now()
    codes = sorted(set(fields))
    return AccessLog.objects.bulk_create(
        [
            AccessLog(
                at=at,
                network_id=organization.network_id,
                user=user,
                organization=organization,
                client_id=client_id,
                referral_id=referral_id,
                fields=codes,
                purpose=purpose,
                ip_address=ip_address,
                user_agent=user_agent[:300],
            )
            for client_id, referral_id in seen
        ]
    )
