"""What people read instead of stored codes: needs, languages, statuses, ways of contact and
why client data was seen (``{% load labels %}``). A code nobody knows is shown as it is."""

from __future__ import annotations

from collections.abc import Iterable

from django import template
from django.utils.translation import gettext

from cms.categories import need_label
from cms.languages import language_name
from consent.models import AccessPurpose, ClientField
from referrals.models import ContactPreference, ReferralStatus

register = template.Library()


def _label(choices: object, code: object) -> str:
    value = str(code or "")
    labels = dict(getattr(choices, "choices", ()))
    return str(labels.get(value, value))


@register.filter
def need_name(code: str) -> str:
    """“food-insecurity” → “Food”."""
    return need_label(str(code or ""))


@register.filter
def need_names(codes: Iterable[str] | None) -> str:
    """Need codes → their names, comma-separated."""
    return ", ".join(need_label(str(code)) for code in codes or ())


@register.filter
def language(code: str) -> str:
    """“es” → “Spanish” (“Español” in Spanish); “hmn” → “Hmong”."""
    return language_name(str(code or ""))


@register.filter
def status_name(code: str) -> str:
    """A referral status code → its label (“rejected” → “Declined”)."""
    return _label(ReferralStatus, code)


@register.filter
def contact_method(code: str) -> str:
    """“text” → “Text message”."""
    return _label(ContactPreference, code)


@register.filter
def purpose_name(code: str) -> str:
    """Why client data was seen: “view” → “Referral page”."""
    return _label(AccessPurpose, code)


@register.filter
def field_name(code: str) -> str:
    """A client field code → its label (“preferred_language” → “Preferred language”)."""
    return _label(ClientField, code)


# The lines the scheduled sweep writes on a timeline, stored in the site's language (English):
# shown in the reader's. Anything else on a timeline is somebody's own words, shown as written.
_SYSTEM_LINES = frozenset({"Answer due now", "Answer due soon", "Outcome overdue"})


@register.filter
def timeline_words(entry: object) -> str:
    """The words of a timeline entry (``disclosure.timeline``) in the reader's language when
    the system wrote them."""
    text = str(getattr(entry, "text", "") or "")
    event = getattr(entry, "event", None)
    if getattr(event, "actor_id", True) is None and text in _SYSTEM_LINES:
        return gettext(text)
    return text
