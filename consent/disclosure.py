"""What a recipient may see of a referral's client: the fields both the client's consent and the
agency's agreement allow, and nothing once the consent is revoked or expired.

Every disclosure that shows client data writes one access-log row.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from django.utils import timezone

from .models import AccessLog, ClientField, DataSharingAgreement
from .selectors import agreement_for, agreements_in_effect, consent_covers

if TYPE_CHECKING:
    from network.models import Organization, Referral, User


@dataclass(frozen=True)
class Disclosure:
    """A referral as one organization may see it.

    ``client`` holds only disclosed fields (registry code → value); ``withdrawn`` says the consent
    no longer allows anything (the recipient still sees that the referral existed).
    """

    referral_id: int
    fields: frozenset[str]
    client: dict[str, Any] = field(default_factory=dict)
    withdrawn: bool = False
    no_redisclosure: bool = False  # 42 CFR Part 2: the recipient may not pass it on


def _client_values(
    referral: Referral, sensitive: frozenset[str], show_sensitive: bool
) -> dict[str, Any]:
    client = referral.client
    screening = None
    if hasattr(referral, "latest_screening"):
        screening = referral.latest_screening
    else:
        screening = client.screenings.order_by("-performed_at", "-pk").first()
    screening_value: dict[str, Any] | None = None
    if screening is not None:
        shown = [c for c in screening.positive_categories if show_sensitive or c not in sensitive]
        screening_value = {
            "performed_at": screening.performed_at,
            "positive_categories": shown,
        }
    return {
        ClientField.NAME: client.full_name,
        ClientField.DATE_OF_BIRTH: client.date_of_birth,
        ClientField.PHONE: client.phone,
        ClientField.EMAIL: client.email,
        ClientField.ADDRESS: client.address,
        ClientField.PREFERRED_LANGUAGE: client.preferred_language,
        ClientField.CONTACT_PREFERENCES: {
            "preference": client.contact_preference,
            "notes": client.contact_notes,
            "do_not_contact": client.do_not_contact,
        },
        ClientField.SCREENING: screening_value,
        ClientField.NOTE: referral.note,
    }


def disclosure_for(
    referral: Referral,
    recipient: Organization,
    *,
    user: User | None,
    purpose: str = "view",
    ip_address: str | None = None,
    user_agent: str = "",
    at: datetime | None = None,
) -> Disclosure:
    """The referral's client data ``recipient`` may see now, logged as seen by ``user``.

    The sending clinic owns the client and sees everything (not a disclosure, but logged as
    its own read). The receiving agency sees the fields of both the agreement the referral was
    sent under and the one in force now, while an active consent covers it. Anyone else sees
    nothing.
    """
    at = at or timezone.now()
    if recipient.pk == referral.sender_id:
        everything = frozenset(ClientField.values)
        values = _client_values(referral, frozenset(), show_sensitive=True)
        if user is not None:
            AccessLog.objects.create(
                at=at,
                network_id=referral.network_id,
                user=user,
                organization=recipient,
                client_id=referral.client_id,
                referral=referral,
                fields=sorted(everything),
                purpose=purpose,
                ip_address=ip_address,
                user_agent=user_agent[:300],
            )
        return Disclosure(referral_id=referral.pk, fields=everything, client=values)
    in_force = (
        agreement_for(agency=recipient, clinic=referral.sender, at=at)
        if recipient.pk == referral.agency_id
        else None
    )
    allowed = _fields_allowed(referral, recipient, in_force, at)
    if allowed is None:
        return Disclosure(referral_id=referral.pk, fields=frozenset(), withdrawn=True)
    consent = referral.consent
    sensitive = consent.network.sensitive_category_codes()
    show_sensitive = recipient.pk in {r.pk for r in consent.sensitive_recipients.all()}
    values = _client_values(referral, sensitive, show_sensitive)
    shown = {code: values[code] for code in sorted(allowed)}
    disclosure = Disclosure(
        referral_id=referral.pk,
        fields=allowed,
        client=shown,
        no_redisclosure=consent.part_2,
    )
    if allowed:
        AccessLog.objects.create(
            at=at,
            network_id=referral.network_id,
            user=user,
            organization=recipient,
            client_id=referral.client_id,
            referral=referral,
            fields=sorted(allowed),
            purpose=purpose,
            ip_address=ip_address,
            user_agent=user_agent[:300],
        )
    return disclosure


def fields_disclosed(
    referrals: Iterable[Referral], recipient: Organization, *, at: datetime
) -> dict[int, frozenset[str]]:
    """Referral id → the client fields ``recipient`` may see on it now (empty when withdrawn),
    by the rule of ``disclosure_for``, for a page of received referrals: the agreements in force
    are read once. Logs nothing: the caller logs what it shows."""
    in_force: dict[int | None, DataSharingAgreement] = {}
    for agreement in agreements_in_effect(at).filter(agency=recipient):
        in_force[agreement.clinic_id] = agreement  # one per scope: clinic, or network-wide
    return {
        referral.pk: _fields_allowed(
            referral, recipient, in_force.get(referral.sender_id, in_force.get(None)), at
        )
        or frozenset()
        for referral in referrals
    }


def _fields_allowed(
    referral: Referral,
    recipient: Organization,
    in_force: DataSharingAgreement | None,
    at: datetime,
) -> frozenset[str] | None:
    """The fields the receiving agency may see: those of the agreement the referral was sent
    under, narrowed by the one in force now (a terminated agreement or a stricter version takes
    effect on open referrals at once), while the consent covers it; None when withdrawn."""
    if recipient.pk != referral.agency_id or in_force is None:
        return None
    consent = referral.consent
    if consent.client_id != referral.client_id or not consent_covers(
        consent, recipient=recipient, categories=referral.categories, at=at
    ):
        return None
    return (
        frozenset(referral.agreement.fields)
        & frozenset(in_force.fields)
        & frozenset(ClientField.values)
    )
