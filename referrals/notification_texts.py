"""What each referral notification says, in the active language.

The services hand ``notify`` these (bound with ``functools.partial``) rather than finished text;
``notify`` renders them once per recipient language, so every person reads the in-app copy and
the email in their own language. Times are written in the network's zone, in the one format
(``cms.formats``). The texts name the referral and the service, never the client: email is not a
safe channel.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from zoneinfo import ZoneInfo

from django.utils import timezone
from django.utils.formats import date_format
from django.utils.translation import gettext as _

from network.models import Organization
from referrals.models import ReasonCode, Referral, ReferralOutcome, ReferralStatus, Urgency

Texts = tuple[str, str]  # (subject, body)


def local_time(referral: Referral, moment: datetime) -> str:
    """``moment`` as people of the referral's network read it."""
    zone = ZoneInfo(referral.network.time_zone)
    return date_format(timezone.localtime(moment, zone), "DATETIME_FORMAT")


def received_texts(referral: Referral, clinic: Organization) -> Texts:
    return (
        _("New referral #%(id)s: %(service)s")
        % {"id": referral.pk, "service": referral.service_name},
        _("%(clinic)s sent a %(urgency)s referral for %(service)s.")
        % {
            "clinic": clinic,
            "urgency": str(Urgency(referral.urgency).label).lower(),
            "service": referral.service_name,
        },
    )


def answer_due_texts(referral: Referral, *, due: bool) -> Texts:
    subject = (
        _("Referral #%(id)s needs an answer now")
        if due
        else _("Referral #%(id)s needs an answer soon")
    )
    when = local_time(referral, referral.response_due_at) if referral.response_due_at else ""
    return (
        subject % {"id": referral.pk},
        _("Accept or decline the referral for %(service)s by %(when)s.")
        % {"service": referral.service_name, "when": when},
    )


def outcome_overdue_texts(referral: Referral, clinic: Organization) -> Texts:
    return (
        _("Outcome overdue for referral #%(id)s") % {"id": referral.pk},
        _(
            "The agreement asks for the outcome of the referral for %(service)s by "
            "now. Record it so that %(clinic)s knows how it ended."
        )
        % {"service": referral.service_name, "clinic": clinic},
    )


def escalation_text(alternatives: Iterable[str]) -> str:
    """The escalation's words: no answer, and the other services (“name (agency)”) if any."""
    names = "; ".join(alternatives)
    text = _("No answer from the agency.")
    if names:
        text += " " + _("Other services for this need: %(names)s") % {"names": names}
    return text


def overdue_texts(referral: Referral, agency: Organization, alternatives: list[str]) -> Texts:
    return (
        _("Referral #%(id)s is overdue") % {"id": referral.pk},
        _("%(agency)s has not answered the referral for %(service)s in time. %(more)s")
        % {
            "agency": agency,
            "service": referral.service_name,
            "more": escalation_text(alternatives),
        },
    )


def status_texts(
    referral: Referral,
    organization: Organization,
    status: str,
    outcome: str = "",
    reason_code: str = "",
) -> Texts:
    """A status change; with the outcome's and the coded reason's labels (never the free text: it
    may name the client) when the change closed the loop."""
    label = str(ReferralStatus(status).label)
    body = _("%(org)s marked the referral for %(service)s %(status)s.") % {
        "org": organization,
        "service": referral.service_name,
        "status": label.lower(),
    }
    if outcome:
        body += " " + _("Outcome: %(outcome)s.") % {"outcome": ReferralOutcome(outcome).label}
    if reason_code:
        body += " " + _("Reason: %(reason)s.") % {"reason": ReasonCode(reason_code).label}
    return _("Referral #%(id)s is now %(status)s") % {"id": referral.pk, "status": label}, body


def message_texts(referral: Referral, organization: Organization) -> Texts:
    return (
        _("New message on referral #%(id)s") % {"id": referral.pk},
        _("%(org)s wrote about the referral for %(service)s.")
        % {"org": organization, "service": referral.service_name},
    )


def consent_ended_texts(referral: Referral) -> Texts:
    return (
        _("Consent ended for referral #%(id)s") % {"id": referral.pk},
        _(
            "The client's consent no longer covers this referral. Its details are withdrawn; "
            "do not use or keep the client's information."
        ),
    )


def unreceived_texts(referral: Referral) -> Texts:
    return (
        _("Referral #%(id)s has nobody to receive it at %(agency)s")
        % {"id": referral.pk, "agency": referral.agency.name},
        _(
            "%(clinic)s sent a referral for %(service)s to %(agency)s, but no active staff "
            "member of %(agency)s may receive referrals. Give someone there the agency staff "
            "role so that it is answered."
        )
        % {
            "clinic": referral.sender.name,
            "service": referral.service_name,
            "agency": referral.agency.name,
        },
    )
