"""The signed link that asks an agency's editor to confirm its listing: made for one listing and
one person, valid on its network's site only, until it expires or the listing is confirmed."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.core import signing
from django.utils import timezone
from django.utils.translation import gettext

from network.models import Network, User
from network.permissions import OrgPerm, user_has_org_perm

from .models import AgencyPage, ListingVerification

VERIFY_SALT = "handoff.listing-verify"
VERIFY_LINK_DAYS = 30


class VerificationLinkInvalid(Exception):
    """The link was altered, belongs to nothing or to another network's site, was already used
    (``gone``) or has expired (``gone``)."""

    def __init__(self, message: str, *, gone: bool = False) -> None:
        super().__init__(message)
        self.gone = gone


def verification_token_make(*, page: AgencyPage, user: User, now: datetime | None = None) -> str:
    """A signed, expiring token naming the listing, the person asked to confirm it and when it was
    issued (a confirmation after that instant uses it up)."""
    issued = (now or timezone.now()).timestamp()
    return signing.dumps({"p": page.pk, "u": user.pk, "t": issued}, salt=VERIFY_SALT, compress=True)


def verification_token_read(
    token: str, *, network: Network | None, lock: bool = False
) -> tuple[AgencyPage, User]:
    """The listing and person of a token, or VerificationLinkInvalid (with the reason).

    Valid only on ``network``'s own site, and only until the listing is next confirmed (by this
    link or any other way). ``lock`` holds the listing's verification row until the transaction
    ends, so that two clicks cannot both use one link.
    """
    try:
        data = signing.loads(token, salt=VERIFY_SALT, max_age=timedelta(days=VERIFY_LINK_DAYS))
    except signing.SignatureExpired as exc:
        raise VerificationLinkInvalid(gettext("This link has expired."), gone=True) from exc
    except signing.BadSignature as exc:
        raise VerificationLinkInvalid(gettext("This link is not valid.")) from exc
    issued = data.get("t") if isinstance(data, dict) else None
    if not isinstance(issued, int | float):
        raise VerificationLinkInvalid(gettext("This link is not valid."))
    page = AgencyPage.objects.filter(pk=data.get("p")).select_related("organization").first()
    user = User.objects.filter(pk=data.get("u"), is_active=True).first()
    if page is None or user is None or page.organization is None:
        raise VerificationLinkInvalid(gettext("This listing or account no longer exists."))
    if network is None or page.organization.network_id != network.pk:
        # Another network's site: as if the listing did not exist here.
        raise VerificationLinkInvalid(gettext("This link is not valid."))
    if not user_has_org_perm(user, OrgPerm.EDIT_LISTING, page.organization):
        raise VerificationLinkInvalid(gettext("You no longer edit this listing."))
    verifications = ListingVerification.objects.filter(page_id=page.pk)
    if lock:
        verifications = verifications.select_for_update()
    last_verified_at = verifications.values_list("last_verified_at", flat=True).first()
    if last_verified_at is not None and last_verified_at.timestamp() >= issued:
        raise VerificationLinkInvalid(
            gettext("This link was already used: the listing has been confirmed since."), gone=True
        )
    return page, user
