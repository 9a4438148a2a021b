"""Why a change to a client or a referral was refused: exceptions with a ``code`` for programs
and a message for people."""

from __future__ import annotations

from django.utils.translation import gettext as _

from referrals.lifecycle import (
    Refusal,
)
from referrals.models import (
    Client,
    Referral,
)


class PossibleDuplicate(Exception):
    """A client with a similar name and the same date of birth exists; staff must choose."""

    def __init__(self, candidates: list[Client]) -> None:
        super().__init__(_("A client with a similar name and the same date of birth exists."))
        self.candidates = candidates


class ReferralError(Exception):
    """A referral change was refused; ``code`` for programs, the message for people."""

    code = "refused"


class ConsentRequired(ReferralError):
    code = "consent_required"


class AgreementMissing(ReferralError):
    code = "agreement_missing"


class TransitionNotAllowed(ReferralError):
    def __init__(self, refusal: Refusal) -> None:
        super().__init__(refusal.message)
        self.code = refusal.code


class StaleVersion(ReferralError):
    """The referral changed since the caller read it; ``current`` is the state now."""

    code = "stale_version"

    def __init__(self, current: Referral) -> None:
        super().__init__(
            _("Someone else changed this referral (it is now %(status)s); review and retry.")
            % {"status": current.get_status_display()}
        )
        self.current = current


class IdempotencyConflict(ReferralError):
    code = "idempotency_conflict"
