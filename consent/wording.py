"""The words staff read to a client when recording verbal consent.

One text for every page that records consent (the client page and the send flow), so what the
client heard is what the consent stores in ``attestation``.
"""

from __future__ import annotations

from collections.abc import Iterable

from django.utils.translation import gettext, ngettext


def verbal_consent_script(*, clinic: str, recipients: Iterable[str], needs: Iterable[str]) -> str:
    """The script to read, naming the clinic, who will receive the information and for what.

    ``recipients`` empty means every agency of the network.
    """
    recipients = list(recipients)
    needs = list(needs)
    if recipients:
        to = ngettext(
            "to %(names)s",
            "to these organizations: %(names)s",
            len(recipients),
        ) % {"names": ", ".join(recipients)}
    else:
        to = gettext("to the community agencies in our referral network")
    return gettext(
        "%(clinic)s would like to share your name, contact information and the needs you told "
        "us about (%(needs)s) %(to)s, so that they can contact you and help. They will see only "
        "what they need to help you. You can say no, and it will not change the care you get "
        "here. You can take back your permission at any time by telling us. Do we have your "
        "permission to share this information?"
    ) % {"clinic": clinic, "needs": ", ".join(needs) or gettext("your social needs"), "to": to}
