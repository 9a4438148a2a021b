"""What a recipient may see of a referral's client: the fields both the client's consent and the
agency's agreement allow, and nothing once the consent is revoked or expired.

Free text on a referral (the note, messages, reasons, outcome notes) is client data too: the agency
reads the clinic's words only while the agreement's ``note`` field is disclosed, and its own only
while the disclosure is not withdrawn; the clinic reads everything, and the agency's words it reads
are logged.

Every disclosure that shows client data writes one access-log row naming what it showed, once
per page view: a reload of the same page by the same person for the same purpose within
``DISCLOSURE_LOG_WINDOW`` that shows nothing more (the page again after a message or a status
change, an htmx partial of it) adds no row; a view after the window, or one that shows more
fields, does.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.utils import timezone

from consent.models import AccessLog, ClientField, DataSharingAgreement
from consent.selectors import (
    agreement_for,
    agreements_in_effect,
    consent_covers,
    consents_naming,
)
from referrals.lifecycle import OUTCOME_REQUIRED
from referrals.models import EventKind, ReferralEvent

if TYPE_CHECKING:
    from network.models import Organization, User
    from referrals.models import Referral

# Free text on a referral, by the name the access log gives it (the note is the registry's own).
FREE_TEXT_NOTE = ClientField.NOTE.value  # the clinic's note to the agency
FREE_TEXT_MESSAGES = "messages"  # messages on the timeline
FREE_TEXT_STATUS_REASON = "status_reason"  # why a referral was declined, held, cancelled, closed
FREE_TEXT_OUTCOME_NOTE = "outcome_note"  # how the agency says it ended, in its words

# One page view and its reloads: the same disclosure again within this time is not logged again.
DISCLOSURE_LOG_WINDOW = timedelta(minutes=getattr(settings, "HANDOFF_DISCLOSURE_LOG_MINUTES", 10))


@dataclass(frozen=True)
class TimelineEntry:
    """One event of the referral's timeline as an organization may read it: ``text`` is "" when
    ``withheld`` (the event had words this organization may not read now)."""

    event: ReferralEvent
    text: str
    withheld: bool = False


@dataclass(frozen=True)
class Disclosure:
    """A referral as one organization may see it.

    ``client`` holds only disclosed fields (registry code → value); ``withdrawn`` says the consent
    no longer allows anything (the recipient still sees that the referral existed). The free text
    a page or API shows comes from here too (``status_reason``, ``outcome_note``, ``timeline``),
    never from the referral itself.
    """

    referral_id: int
    fields: frozenset[str]
    client: dict[str, Any] = field(default_factory=dict)
    withdrawn: bool = False
    no_redisclosure: bool = False  # 42 CFR Part 2: the recipient may not pass it on
    # The free text the organization may read now ("" when withheld), and the timeline with it.
    status_reason: str = ""
    outcome_note: str = ""
    timeline: tuple[TimelineEntry, ...] = ()
    text_withheld: bool = False  # some words on the referral were kept from this organization


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
    """The referral's client data and free text ``recipient`` may see now, logged as seen by
    ``user``.

    The sending clinic owns the client and sees everything: not a disclosure, but logged as its
    own read (with the agency's words it read: messages, reasons, outcome notes). The receiving
    agency sees the fields of both the agreement the referral was sent under and the one in force
    now, while an active consent covers it; of the free text, the clinic's words only when those
    fields include the note, its own only while not withdrawn. Anyone else sees nothing.
    """
    at = at or timezone.now()
    events = list(referral.events.select_related("actor", "organization").order_by("at", "pk"))
    log = _AccessLogger(
        referral=referral,
        recipient=recipient,
        user=user,
        purpose=purpose,
        ip_address=ip_address,
        user_agent=user_agent,
        at=at,
    )
    if recipient.pk == referral.sender_id:
        everything = frozenset(ClientField.values)
        values = _client_values(referral, frozenset(), show_sensitive=True)
        text = _free_text(referral, recipient, events, own_only=False)
        # The clinic's own read of its client, and the agency's words it read: logged, and left
        # out of the client's accounting of disclosures (consent.selectors).
        log.write(everything | text.shown_from_other_side)
        return Disclosure(
            referral_id=referral.pk,
            fields=everything,
            client=values,
            status_reason=text.status_reason,
            outcome_note=text.outcome_note,
            timeline=text.timeline,
            text_withheld=text.withheld,
        )
    in_force = (
        agreement_for(agency=recipient, clinic=referral.sender, at=at)
        if recipient.pk == referral.agency_id
        else None
    )
    allowed = _fields_allowed(referral, recipient, in_force, at)
    if allowed is None:
        text = _free_text(referral, recipient, events, own_only=True, withdrawn=True)
        return Disclosure(
            referral_id=referral.pk,
            fields=frozenset(),
            withdrawn=True,
            timeline=text.timeline,
            text_withheld=text.withheld,
        )
    consent = referral.consent
    sensitive = consent.network.sensitive_category_codes()
    show_sensitive = recipient.pk in {r.pk for r in consent.sensitive_recipients.all()}
    values = _client_values(referral, sensitive, show_sensitive)
    shown = {code: values[code] for code in sorted(allowed)}
    text = _free_text(referral, recipient, events, own_only=ClientField.NOTE not in allowed)
    disclosure = Disclosure(
        referral_id=referral.pk,
        fields=allowed,
        client=shown,
        no_redisclosure=consent.part_2,
        status_reason=text.status_reason,
        outcome_note=text.outcome_note,
        timeline=text.timeline,
        text_withheld=text.withheld,
    )
    log.write(allowed | text.shown_from_other_side)
    return disclosure


@dataclass(frozen=True)
class _AccessLogger:
    """Writes the access-log row of one display, when it showed anything."""

    referral: Referral
    recipient: Organization
    user: User | None
    purpose: str
    ip_address: str | None
    user_agent: str
    at: datetime

    def write(self, fields: frozenset[str]) -> None:
        if not fields or self.logged_already(fields):
            return
        AccessLog.objects.create(
            at=self.at,
            network_id=self.referral.network_id,
            user=self.user,
            organization=self.recipient,
            client_id=self.referral.client_id,
            referral=self.referral,
            fields=sorted(fields),
            purpose=self.purpose,
            ip_address=self.ip_address,
            user_agent=self.user_agent[:300],
        )

    def logged_already(self, fields: frozenset[str]) -> bool:
        """Whether the same person saw at least these fields of this referral, for the same
        organization and purpose, within ``DISCLOSURE_LOG_WINDOW`` before now (one query)."""
        recent = AccessLog.objects.filter(
            user=self.user,
            organization=self.recipient,
            referral=self.referral,
            purpose=self.purpose,
            at__gt=self.at - DISCLOSURE_LOG_WINDOW,
            at__lte=self.at,
        ).values_list("fields", flat=True)
        return any(fields <= frozenset(seen) for seen in recent)


@dataclass(frozen=True)
class _FreeText:
    status_reason: str
    outcome_note: str
    timeline: tuple[TimelineEntry, ...]
    withheld: bool
    shown_from_other_side: frozenset[str]  # free-text names read from the other organization


def _free_text_names(event: ReferralEvent) -> frozenset[str]:
    """What an event's words are, by their access-log names."""
    if event.kind == EventKind.MESSAGE:
        return frozenset({FREE_TEXT_MESSAGES})
    if event.to_status in OUTCOME_REQUIRED:  # "outcome — note — reason": how it ended
        return frozenset({FREE_TEXT_OUTCOME_NOTE})
    return frozenset({FREE_TEXT_STATUS_REASON})


def _free_text(
    referral: Referral,
    reader: Organization,
    events: list[ReferralEvent],
    *,
    own_only: bool,
    withdrawn: bool = False,
) -> _FreeText:
    """The referral's words ``reader`` may read: everything, or (``own_only``) only what its
    own organization wrote, or (``withdrawn``) nobody's. System texts (reminders, escalations:
    no organization) carry no client data and always show."""

    def readable(author_id: int | None) -> bool:
        if author_id is None:
            return True
        if withdrawn:
            return False
        return author_id == reader.pk or not own_only

    timeline: list[TimelineEntry] = []
    from_other: set[str] = set()
    withheld = False
    last_status: ReferralEvent | None = None
    for event in events:
        if event.kind == EventKind.STATUS:
            last_status = event
        if not event.text:
            timeline.append(TimelineEntry(event=event, text=""))
            continue
        if readable(event.organization_id):
            timeline.append(TimelineEntry(event=event, text=event.text))
            if event.organization_id not in (None, reader.pk):
                from_other |= _free_text_names(event)
        else:
            timeline.append(TimelineEntry(event=event, text="", withheld=True))
            withheld = True
    # The referral's reason and outcome note were written with its latest status change (by
    # the clinic, the stricter guess, if no change says who).
    author_id = referral.sender_id
    if last_status is not None and last_status.organization_id is not None:
        author_id = last_status.organization_id
    status_reason = outcome_note = ""
    if referral.status_reason or referral.outcome_note:
        if readable(author_id):
            status_reason, outcome_note = referral.status_reason, referral.outcome_note
            if author_id != reader.pk:
                from_other |= {
                    name
                    for name, value in (
                        (FREE_TEXT_STATUS_REASON, status_reason),
                        (FREE_TEXT_OUTCOME_NOTE, outcome_note),
                    )
                    if value
                }
        else:
            withheld = True
    note_hidden = bool(referral.note) and (withdrawn or own_only)
    return _FreeText(
        status_reason=status_reason,
        outcome_note=outcome_note,
        timeline=tuple(timeline),
        withheld=withheld or note_hidden,
        shown_from_other_side=frozenset(from_other),
    )


def fields_disclosed(
    referrals: Iterable[Referral], recipient: Organization, *, at: datetime
) -> dict[int, frozenset[str]]:
    """Referral id → the client fields ``recipient`` may see on it now (empty when withdrawn),
    by the rule of ``disclosure_for``, for a page of received referrals: the agreements in force
    are read once, and whether each consent names the recipient (for a consent that is not
    network-wide, and for sensitive needs) in one query each, only when a consent asks it.
    Logs nothing: the caller logs what it shows."""
    listed = list(referrals)
    in_force: dict[int | None, DataSharingAgreement] = {}
    for agreement in agreements_in_effect(at).filter(agency=recipient):
        in_force[agreement.clinic_id] = agreement  # one per scope: clinic, or network-wide
    received = [referral for referral in listed if referral.agency_id == recipient.pk]
    # consent_covers refuses a consent of another network before it reads these: the
    # recipient's network's sensitive categories are the consent's wherever they are read.
    sensitive = recipient.network.sensitive_category_codes()
    names = _Names(
        sensitive=sensitive,
        named=consents_naming(
            recipient,
            consent_ids={r.consent_id for r in received if not r.consent.whole_network},
        ),
        named_sensitive=consents_naming(
            recipient,
            consent_ids={r.consent_id for r in received if sensitive.intersection(r.categories)},
            sensitive=True,
        ),
    )
    return {
        referral.pk: _fields_allowed(
            referral, recipient, in_force.get(referral.sender_id, in_force.get(None)), at, names
        )
        or frozenset()
        for referral in listed
    }


@dataclass(frozen=True)
class _Names:
    """What ``consent_covers`` would read of a page's consents, read for the page at once: the
    network's sensitive categories, and the consents that name the recipient (for sensitive
    needs: ``named_sensitive``)."""

    sensitive: frozenset[str]
    named: frozenset[int]
    named_sensitive: frozenset[int]

    def ids(self, consent_id: int, recipient: Organization) -> dict[str, Any]:
        """``consent_covers``'s keyword arguments for the consent ``consent_id``."""
        return {
            "sensitive": self.sensitive,
            "recipient_ids": frozenset({recipient.pk}) if consent_id in self.named else frozenset(),
            "sensitive_recipient_ids": (
                frozenset({recipient.pk}) if consent_id in self.named_sensitive else frozenset()
            ),
        }


def _fields_allowed(
    referral: Referral,
    recipient: Organization,
    in_force: DataSharingAgreement | None,
    at: datetime,
    names: _Names | None = None,
) -> frozenset[str] | None:
    """The fields the receiving agency may see: those of the agreement the referral was sent
    under, narrowed by the one in force now (a terminated agreement or a stricter version takes
    effect on open referrals at once), while the consent covers it; None when withdrawn.
    ``names``: the page's (``fields_disclosed``); without, the consent's are read."""
    if recipient.pk != referral.agency_id or in_force is None:
        return None
    consent = referral.consent
    if consent.client_id != referral.client_id or not consent_covers(
        consent,
        recipient=recipient,
        categories=referral.categories,
        at=at,
        **(names.ids(referral.consent_id, recipient) if names is not None else {}),
    ):
        return None
    return (
        frozenset(referral.agreement.fields)
        & frozenset(in_force.fields)
        & frozenset(ClientField.values)
    )
