"""Sending referrals: the checks (consent, agreement, the service) and the writes, one referral
or several at once, idempotent."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import partial
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from consent.models import SDOH_CODES
from consent.selectors import agreement_for_listing, consent_active_for
from consent.services import consent_record
from directory.models import ServiceAtLocation
from network.models import (
    Organization,
    User,
)
from network.permissions import (
    OrgPerm,
)
from referrals.changes import dashboard_changed
from referrals.deadlines import business_hours_after
from referrals.errors import AgreementMissing, ConsentRequired, IdempotencyConflict, ReferralError
from referrals.models import (
    Client,
    EventKind,
    Referral,
    ReferralStatus,
    Urgency,
)
from referrals.notification_texts import received_texts
from referrals.services.clients import clinic_staff_check
from referrals.services.notifications import agency_admins_notify_unreceived, notify_holders
from referrals.services.timeline import event_add

if TYPE_CHECKING:
    from django.core.files.uploadedfile import UploadedFile

    from directory.models import Location, ServicePage


@dataclass(frozen=True)
class Target:
    """Where a referral goes: a service, at one of its locations (or none)."""

    service: ServicePage
    location: Location | None = None


def agency_of(service: ServicePage) -> Organization:
    """The agency organization whose listing the service is under (one query)."""
    agency = Organization.objects.filter(
        listing__path=service.path[: -service.steplen], listing__depth=service.depth - 1
    ).first()
    if agency is None:
        raise AgreementMissing(
            _("%(service)s is not linked to an agency organization; contact it directly.")
            % {"service": service.title}
        )
    return agency


@dataclass(frozen=True)
class ConsentGiven:
    """The client's consent, given with a send: how (``consent.models.ConsentMethod``), to the
    whole network or to the agencies sent to (``recipients``, by default those of the
    targets), and its proof (the words read, a typed signature or a signed form)."""

    method: str
    whole_network: bool = False
    recipients: Sequence[Organization] | None = None
    attestation: str = ""
    signature: str = ""
    signed_form: UploadedFile | None = None


def referrals_send_with_consent(
    *,
    client: Client,
    by: User,
    sender: Organization,
    targets: Sequence[Target],
    categories: Sequence[str],
    idempotency_key: str,
    consent: ConsentGiven | None,
    urgency: str = Urgency.ROUTINE,
    note: str = "",
    now: datetime | None = None,
) -> list[Referral]:
    """``referrals_send``, recording first the consent the client gives with it (if any): one
    transaction, so nothing is recorded or sent when anything refuses. The send page and the
    JSON API both send this way.

    The consent covers the needs sent, to the agencies sent to (or the whole network), and the
    sensitive needs among them only for those agencies. A repeat of an idempotency key already
    used returns the referrals it made and records no second consent.
    """
    key = idempotency_key.strip()
    made = (
        list(
            Referral.objects.filter(
                sender=sender, idempotency_key__startswith=f"{key}/"
            ).values_list("client_id", "service_id")
        )
        if key
        else []
    )
    replay = bool(made)
    # The key again with other content (another client, other services) is a conflict, not
    # a send of the difference.
    if replay and sorted(made) != sorted((client.pk, t.service.pk) for t in targets):
        raise IdempotencyConflict(_("This idempotency key was already used for another send."))
    with transaction.atomic():
        if consent is not None and not replay:
            agencies = (
                list(consent.recipients)
                if consent.recipients is not None
                else list({a.pk: a for a in (agency_of(t.service) for t in targets)}.values())
            )
            sensitive = bool(sender.network.sensitive_category_codes() & set(categories))
            consent_record(
                client=client,
                by=by,
                organization=sender,
                categories=categories,
                method=consent.method,
                whole_network=consent.whole_network,
                recipients=[] if consent.whole_network else agencies,
                sensitive_recipients=agencies if sensitive else [],
                attestation=consent.attestation,
                signature=consent.signature,
                signed_form=consent.signed_form,
                granted_at=now,
            )
        return referrals_send(
            client=client,
            by=by,
            sender=sender,
            targets=targets,
            categories=categories,
            idempotency_key=key,
            urgency=urgency,
            note=note,
            now=now,
        )


def referrals_send(
    *,
    client: Client,
    by: User,
    sender: Organization,
    targets: Sequence[Target],
    categories: Sequence[str],
    idempotency_key: str,
    urgency: str = Urgency.ROUTINE,
    note: str = "",
    now: datetime | None = None,
) -> list[Referral]:
    """Send one client's need to several services at once, all or none.

    Each target gets its own referral, keyed ``<idempotency_key>/<service id>`` so that a
    repeated request returns the same referrals.
    """
    # Checked before the suffix is added: "/<service id>" alone must not pass for a key.
    key = idempotency_key.strip()
    if not key or len(key) > 80:
        raise ValidationError({"idempotency_key": _("An idempotency key of 1 to 80 characters.")})
    if not targets:
        raise ValidationError(_("Choose at least one service."))
    if len({t.service.pk for t in targets}) != len(targets):
        raise ValidationError(_("The same service is chosen twice."))
    with transaction.atomic():
        return [
            referral_send(
                client=client,
                by=by,
                sender=sender,
                service=t.service,
                location=t.location,
                categories=categories,
                idempotency_key=f"{key}/{t.service.pk}",
                urgency=urgency,
                note=note,
                now=now,
            )
            for t in targets
        ]


def referral_send(
    *,
    client: Client,
    by: User,
    sender: Organization,
    service: ServicePage,
    categories: Sequence[str],
    idempotency_key: str,
    location: Location | None = None,
    urgency: str = Urgency.ROUTINE,
    note: str = "",
    now: datetime | None = None,
) -> Referral:
    """Send a referral (status requested) and notify the agency.

    Idempotent: the same ``idempotency_key`` from the same sender returns the referral it
    created. Refuses (ConsentRequired) without an active consent covering the agency and every
    category, (AgreementMissing) without an agreement in force, and ValidationError for bad
    input. Nothing is written when it refuses.
    """
    key = idempotency_key.strip()
    if not key or len(key) > 100:
        raise ValidationError({"idempotency_key": _("An idempotency key of 1 to 100 characters.")})
    clinic_staff_check(by, sender)
    try:
        return _referral_create(
            client=client,
            by=by,
            sender=sender,
            service=service,
            categories=categories,
            idempotency_key=key,
            location=location,
            urgency=urgency,
            note=note,
            now=now,
        )
    except (ValidationError, PermissionDenied, ReferralError, IntegrityError):
        # A key already used answers with its referral (or a conflict), whatever changed
        # since; an IntegrityError is the same key racing in from another request. Looked up
        # only here, so that a first send pays no query for it.
        existing = Referral.objects.filter(sender=sender, idempotency_key=key).first()
        if existing is None:
            raise
        return _same_request(existing, client=client, service=service)


def _referral_create(
    *,
    client: Client,
    by: User,
    sender: Organization,
    service: ServicePage,
    categories: Sequence[str],
    idempotency_key: str,
    location: Location | None,
    urgency: str,
    note: str,
    now: datetime | None,
) -> Referral:
    """referral_send's checks and writes, for a permitted sender and a well-formed key."""

    if client.organization_id != sender.pk:
        raise PermissionDenied(_("Only the client's clinic may refer them."))
    categories = sorted(set(categories))
    errors: dict[str, str] = {}
    if not categories:
        errors["categories"] = _("Choose the needs this referral is for.")
    elif not set(categories) <= SDOH_CODES:
        errors["categories"] = _("Unknown needs: %(codes)s.") % {
            "codes": ", ".join(sorted(set(categories) - SDOH_CODES))
        }
    if urgency not in Urgency.values:
        errors["urgency"] = _("Urgency is routine or urgent.")
    if len(note) > 5000:
        errors["note"] = _("Keep the note under 5,000 characters.")
    if not service.live:
        errors["service"] = _("This service is not published.")
    if (
        location is not None
        and not ServiceAtLocation.objects.filter(page=service, location=location).exists()
    ):
        errors["location"] = _("The service is not offered at this location.")
    if errors:
        raise ValidationError(errors)
    now = now or timezone.now()
    # The agreement and its agency in one query; without one, the agency alone, so that the
    # refusal says which of the checks below failed.
    listing_path = service.path[: -service.steplen]
    agreement = agreement_for_listing(listing_path=listing_path, clinic=sender, at=now)
    agency = agreement.agency if agreement is not None else agency_of(service)
    if agency.network_id != sender.network_id or not agency.is_active:
        raise AgreementMissing(_("This agency does not take referrals in your network."))
    if not agency.receives_referrals or service.referral_method != "electronic":
        raise AgreementMissing(
            _("%(agency)s takes no electronic referrals for this service; contact it directly.")
            % {"agency": agency}
        )
    consent = consent_active_for(client=client, recipient=agency, categories=categories, at=now)
    if consent is None:
        raise ConsentRequired(
            _(
                "No active consent lets %(client)s's information go to %(agency)s for these "
                "needs. Record the client's consent first."
            )
            % {"client": client.full_name, "agency": agency}
        )
    if agreement is None:
        raise AgreementMissing(
            _("%(agency)s has no data-sharing agreement in force; contact it directly.")
            % {"agency": agency}
        )
    tz = ZoneInfo(sender.network.time_zone)
    with transaction.atomic():
        referral = Referral.objects.create(
            network_id=sender.network_id,
            client=client,
            sender=sender,
            sent_by=by,
            agency=agency,
            service=service,
            location=location,
            service_name=service.title,
            categories=categories,
            urgency=urgency,
            note=note.strip(),
            consent=consent,
            agreement=agreement,
            status=ReferralStatus.REQUESTED,
            response_due_at=business_hours_after(now, agreement.response_hours, tz),
            idempotency_key=idempotency_key,
            sent_at=now,
        )
        dashboard_changed(referral.network_id)
        event_add(
            referral,
            EventKind.CREATED,
            at=now,
            actor=by,
            organization=sender,
            to_status=ReferralStatus.REQUESTED,
        )
        received = notify_holders(
            agency,
            OrgPerm.RECEIVE_REFERRALS,
            referral=referral,
            kind="referral_received",
            texts=partial(received_texts, referral, sender),
        )
        if not received:  # nobody at the agency can receive it: tell who can fix that
            agency_admins_notify_unreceived(referral)
    return referral


def _same_request(existing: Referral, *, client: Client, service: ServicePage) -> Referral:
    if existing.client_id != client.pk or existing.service_id != service.pk:
        raise IdempotencyConflict(_("This idempotency key was already used for another referral."))
    return existing
