"""The words staff read to a client when recording verbal consent.

One text for every page that records consent (the client page and the send flow), so what the
client heard is what the consent stores in ``attestation``. It is read in the client's language
when the interface speaks it (staff may switch), not in the staff member's.
"""

from __future__ import annotations

from collections.abc import Iterable

from django.conf import settings
from django.utils import translation
from django.utils.translation import gettext, ngettext

from cms.categories import need_label
from cms.languages import language_name


def script_languages() -> list[tuple[str, str]]:
    """(code, name in that language) of every language the script can be read in."""
    return [(code, language_name(code, code)) for code, _name in settings.LANGUAGES]


def script_language(*, preferred: str = "", chosen: str | None = None) -> str:
    """The language to read the script in: the one staff chose on the page, else the client's
    preferred language when the script exists in it, else the interface's."""
    codes = [code for code, _name in settings.LANGUAGES]
    for wanted in (chosen, preferred):
        base = (wanted or "").strip().lower().split("-")[0]
        if base in codes:
            return base
    active = (translation.get_language() or settings.LANGUAGE_CODE).split("-")[0]
    return active if active in codes else settings.LANGUAGE_CODE


def verbal_consent_script(
    *,
    clinic: str,
    recipients: Iterable[str],
    needs: Iterable[str],
    language: str | None = None,
) -> str:
    """The script to read, naming the clinic, who will receive the information and for what.

    ``recipients`` empty means every agency of the network; ``needs`` are need codes (read by
    their plain names); ``language`` the language to read it in (default: the active one).
    """
    recipients = list(recipients)
    with translation.override(language or translation.get_language()):
        names = [need_label(code) for code in needs]
        if recipients:
            to = ngettext(
                "to %(names)s",
                "to these organizations: %(names)s",
                len(recipients),
            ) % {"names": ", ".join(recipients)}
        else:
            to = gettext("to the community agencies in our referral network")
        return gettext(
            "%(clinic)s would like to share your name, contact information and the needs you "
            "told us about (%(needs)s) %(to)s, so that they can contact you and help. They will "
            "see only what they need to help you. You can say no, and it will not change the "
            "care you get here. You can take back your permission at any time by telling us. Do "
            "we have your permission to share this information?"
        ) % {
            "clinic": clinic,
            "needs": ", ".join(names) or gettext("your social needs"),
            "to": to,
        }
