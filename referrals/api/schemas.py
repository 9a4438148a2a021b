"""What the referral API reads and answers, as pydantic schemas (they are its OpenAPI schema).

Bodies are strict JSON: ids are integers (not strings, not booleans), unknown members are
refused, and no string may hold a NUL character (PostgreSQL cannot store one); anything else
answers 400 ``invalid`` with the wrong fields in ``details``.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Annotated, Any, Literal

from django.utils.translation import gettext_lazy as _
from ninja import Field, Schema
from pydantic import AfterValidator, BeforeValidator, ConfigDict, StrictBool, field_validator

from cms.api import MAX_PAGE, MAX_PER_PAGE, ErrorOut, iso_date_text
from referrals.models import ReasonCode, ReferralOutcome, ReferralStatus, Urgency

# The largest id a database key holds (a signed 64-bit integer).
MAX_ID = 2**63 - 1


def _no_nul(value: str) -> str:
    if "\x00" in value:
        raise ValueError(str(_("It cannot contain null characters.")))
    return value


Text = Annotated[str, AfterValidator(_no_nul)]
# A query's day or instant, as ISO 8601 text (not a number of seconds).
Day = Annotated[date, BeforeValidator(iso_date_text)]
Instant = Annotated[datetime, BeforeValidator(iso_date_text)]
Id = Annotated[int, Field(ge=1, le=MAX_ID, strict=True)]


class Body(Schema):
    """A request body: strict JSON, no unknown members."""

    model_config = ConfigDict(extra="forbid")


# --- answers -----------------------------------------------------------------------------------


class Named(Schema):
    id: int
    name: str


class ReferralSummary(Schema):
    """What either side may know of a referral without client data (no free text either: the
    reason and the outcome note may name the client; the detail carries them as disclosed)."""

    id: int
    direction: Literal["sent", "received"] = Field(
        description="Whether the acting organization sent or received the referral."
    )
    status: ReferralStatus
    outcome: str = Field(description="A referral outcome code once completed or failed, else ''.")
    reason_code: str = Field(description="A reason code when declined or failed, else ''.")
    version: int = Field(description="Send it back with a status change (optimistic locking).")
    service: Named
    location_id: int | None
    sender: Named
    agency: Named
    categories: list[str]
    urgency: Urgency
    created_at: datetime
    updated_at: datetime
    response_due_at: datetime | None
    outcome_due_at: datetime | None
    closed_at: datetime | None


class TimelineEvent(Schema):
    kind: str
    at: datetime
    organization: str | None
    from_status: str
    to_status: str
    text: str = Field(description="'' when withheld from the acting organization.")
    text_withheld: bool


class ReferralDetail(ReferralSummary):
    """The referral as the acting organization may see it: the client's fields and the free
    text are the disclosure's (consent and data-sharing agreement), and reading it is logged."""

    status_reason: str
    outcome_note: str
    text_withheld: bool
    client: dict[str, Any] = Field(
        description="The client's disclosed fields only, by field code (see disclosed_fields)."
    )
    disclosed_fields: list[str]
    withdrawn: bool = Field(description="The consent ended: no client data is shown any more.")
    no_redisclosure: bool = Field(description="42 CFR Part 2: the data may not be passed on.")
    timeline: list[TimelineEvent]


class SentOut(Schema):
    """The referrals one send made (or, for a repeated idempotency key, had made)."""

    referrals: list[ReferralSummary]


class StaleOut(ErrorOut):
    """A status change sent with an old version: the referral as it is now."""

    referral: ReferralSummary


# --- requests ----------------------------------------------------------------------------------


class ReferralFilters(Schema):
    """The list's filters (all combine as AND) and paging."""

    status: list[ReferralStatus] | None = Field(
        None, description="One or more statuses (repeat the parameter)."
    )
    direction: Literal["sent", "received"] | None = Field(
        None, description="Referrals the acting organization sent, or received; both by default."
    )
    category: Annotated[str, Field(max_length=100)] | None = Field(
        None, description="An SDOH category code the referral is for."
    )
    overdue: bool | None = Field(
        None, description="Only referrals past their answer or outcome due time (or not)."
    )
    updated_after: Instant | None = Field(
        None, description="Only referrals changed after this instant (with a time zone)."
    )
    sent_from: Day | None = Field(None, description="Sent on or after this day.")
    sent_to: Day | None = Field(None, description="Sent on or before this day.")
    sort: Literal["-created_at", "created_at", "-updated_at", "updated_at"] = Field(
        "-created_at",
        description="Newest first by default; 'updated_at' (oldest change first) suits polling "
        "with updated_after.",
    )
    page: int = Field(1, ge=1, le=MAX_PAGE)
    per_page: int = Field(50, ge=1, le=MAX_PER_PAGE)

    @field_validator("category")
    @classmethod
    def _category_text(cls, value: str | None) -> str | None:
        return None if value is None else _no_nul(value)

    @field_validator("updated_after")
    @classmethod
    def _aware(cls, value: datetime | None) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(str(_("Give the time zone, e.g. 2026-11-24T10:00:00Z.")))
        try:  # the database compares in UTC: an instant at the calendar's ends may not fit
            return value.astimezone(UTC)
        except OverflowError as exc:
            raise ValueError(str(_("This instant is out of range."))) from exc


class TargetIn(Body):
    service: Id = Field(description="A published service of your network's directory.")
    location: Id | None = Field(None, description="One of the service's locations.")


class ConsentIn(Body):
    """The client's consent given with the send, to the agencies sent to (or the whole network).
    A signed form is uploaded on the send page."""

    method: Literal["verbal", "electronic"] = Field(
        description="Verbal (with attestation) or electronic (with signature)."
    )
    whole_network: StrictBool = False
    attestation: Annotated[Text, Field(max_length=5000)] = Field(
        "", description="Verbal: what the client was told and agreed to, in your words."
    )
    signature: Annotated[Text, Field(max_length=200)] = Field(
        "", description="Electronic: the client's typed name."
    )


class SendIn(Body):
    client: Id = Field(description="A client of your clinic.")
    targets: Annotated[list[TargetIn], Field(min_length=1, max_length=20)]
    categories: Annotated[
        list[Annotated[Text, Field(max_length=100)]], Field(min_length=1, max_length=30)
    ] = Field(description="The SDOH category codes of the need.")
    urgency: Urgency = Urgency.ROUTINE
    note: Annotated[Text, Field(max_length=5000)] = Field(
        "", description="To the agency (disclosed only if its agreement allows the note)."
    )
    consent: ConsentIn | None = Field(
        None, description="Record the client's consent with the send, in the same transaction."
    )


class TransitionIn(Body):
    """One status change, from the lifecycle table."""

    to: ReferralStatus
    version: Annotated[int, Field(ge=0, le=MAX_ID, strict=True)] = Field(
        description="The version you read: a referral changed since answers 409."
    )
    reason: Annotated[Text, Field(max_length=5000)] = ""
    reason_code: Annotated[Text, Field(max_length=100)] | None = Field(
        None,
        description="Required to decline or fail: one of "
        + ", ".join(ReasonCode.values)
        + ". Without it, a decline or failure with a reason is coded 'other'.",
    )
    outcome: Annotated[Text, Field(max_length=100)] = Field(
        "", description="Required to complete or fail: one of " + ", ".join(ReferralOutcome.values)
    )
    outcome_note: Annotated[Text, Field(max_length=5000)] = ""
