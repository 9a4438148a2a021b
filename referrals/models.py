"""The referral loop's data: clients, their screenings, referrals with their append-only
timeline, and the notifications outbox.

A Client belongs to the clinic that created it; a Referral hands one client's need to an agency
under a consent and a data-sharing agreement (``consent``) and is never deleted.
"""

from __future__ import annotations

from django.db import models
from django.db.models import Q
from django.urls import reverse
from django.utils.http import urlencode
from django.utils.translation import gettext_lazy as _

from cms.indexes import PostgreSQLIndex
from cms.models import AppendOnlyModel
from network.models import Network, Organization, User
from referrals.names import name_key

# --- clients and screening -------------------------------------------------------------------


class ContactPreference(models.TextChoices):
    PHONE = "phone", _("Phone call")
    TEXT = "text", _("Text message")
    EMAIL = "email", _("Email")
    MAIL = "mail", _("Mail")
    ANY = "any", _("Any")


class Client(models.Model):
    """A person a clinic helps. Owned by the clinic that created it; other organizations see
    it only through a referral their consent and agreement allow."""

    network = models.ForeignKey(Network, on_delete=models.PROTECT, related_name="+")
    organization = models.ForeignKey(
        Organization, on_delete=models.PROTECT, related_name="clients", verbose_name=_("clinic")
    )
    first_name = models.CharField(_("first name"), max_length=100)
    last_name = models.CharField(_("last name"), max_length=100)
    date_of_birth = models.DateField(_("date of birth"))
    phone = models.CharField(_("phone"), max_length=40, blank=True)
    email = models.EmailField(_("email"), blank=True)
    address_1 = models.CharField(_("street address"), max_length=200, blank=True)
    city = models.CharField(_("city"), max_length=100, blank=True)
    state = models.CharField(_("state"), max_length=2, blank=True)
    postal_code = models.CharField(_("ZIP code"), max_length=10, blank=True)
    preferred_language = models.CharField(
        _("preferred language"), max_length=8, blank=True, help_text=_("ISO 639 code.")
    )
    external_id = models.CharField(
        _("medical record number"), max_length=64, blank=True, help_text=_("The clinic's own id.")
    )
    contact_preference = models.CharField(
        _("best way to reach"),
        max_length=8,
        choices=ContactPreference.choices,
        default=ContactPreference.ANY,
    )
    contact_notes = models.CharField(
        _("contact notes"), max_length=300, blank=True, help_text=_("E.g. best time to call.")
    )
    do_not_contact = models.BooleanField(
        _("do not contact"),
        default=False,
        help_text=_("Agencies must not reach out; the clinic relays everything."),
    )
    # The name's phonetic key (``referrals.names``), kept by ``save``: finds a misspelt name.
    name_key = models.CharField(max_length=300, blank=True, editable=False)
    # A duplicate merged into another record (``ClientMerge``): kept for the history that
    # names it (the access log), hidden from every list and page.
    merged_into = models.ForeignKey(
        "self", on_delete=models.PROTECT, null=True, blank=True, related_name="+", editable=False
    )
    merged_at = models.DateTimeField(null=True, blank=True, editable=False)
    created_by = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["last_name", "first_name", "pk"]
        indexes = [
            models.Index(fields=["network", "date_of_birth"]),
            models.Index(fields=["organization", "name_key"], name="client_name_key"),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "external_id"],
                condition=~Q(external_id=""),
                name="client_external_id_per_clinic",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.first_name} {self.last_name}"

    def save(self, *args: object, **kwargs: object) -> None:
        self.name_key = name_key(self.first_name, self.last_name)
        update_fields = kwargs.get("update_fields")
        if update_fields is not None and {"first_name", "last_name"} & set(update_fields):  # type: ignore[call-overload]
            kwargs["update_fields"] = {*update_fields, "name_key"}  # type: ignore[misc]
        super().save(*args, **kwargs)  # type: ignore[arg-type]

    @property
    def full_name(self) -> str:
        return f"{self.first_name} {self.last_name}"

    @property
    def address(self) -> str:
        place = " ".join(p for p in (self.state, self.postal_code) if p)
        return ", ".join(p for p in (self.address_1, self.city, place) if p)


class ClientMerge(AppendOnlyModel):
    """The audit entry of a merge of duplicate clients: who merged which record into which,
    when, the removed record's identity as it was, and how many rows of each kind moved."""

    network = models.ForeignKey(Network, on_delete=models.PROTECT, related_name="+")
    organization = models.ForeignKey(Organization, on_delete=models.PROTECT, related_name="+")
    kept = models.ForeignKey(Client, on_delete=models.PROTECT, related_name="merges")
    removed = models.ForeignKey(Client, on_delete=models.PROTECT, related_name="+")
    by = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+")
    at = models.DateTimeField()
    removed_identity = models.JSONField(default=dict)
    moved = models.JSONField(default=dict, help_text=_("Rows moved, by model label."))

    class Meta:
        ordering = ["-at", "-pk"]

    def __str__(self) -> str:
        return f"Client {self.removed_id} merged into {self.kept_id}"


class Screening(models.Model):
    """One AHC HRSN screening of a client, with its score (``referrals.screening``)."""

    client = models.ForeignKey(Client, on_delete=models.PROTECT, related_name="screenings")
    organization = models.ForeignKey(Organization, on_delete=models.PROTECT, related_name="+")
    performed_by = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+")
    performed_at = models.DateTimeField()
    answers = models.JSONField(help_text=_("Question LOINC code → answer LOINC code(s)."))
    positive_categories = models.JSONField(default=list)
    safety_score = models.PositiveSmallIntegerField(null=True, blank=True)
    incomplete = models.JSONField(default=list)

    class Meta:
        ordering = ["-performed_at", "-pk"]

    def __str__(self) -> str:
        return f"Screening #{self.pk} of client {self.client_id}"

    def search_url(self) -> str:
        """The staff directory search with the positive domains' categories ticked."""
        query = urlencode([("category", code) for code in self.positive_categories])
        return reverse("referrals:search") + (f"?{query}" if query else "")


# --- referrals -------------------------------------------------------------------------------


class ReferralStatus(models.TextChoices):
    """FHIR Task.status codes as the SDOH Clinical Care guide profiles them for referrals."""

    DRAFT = "draft", _("Draft")
    REQUESTED = "requested", _("Requested")
    ACCEPTED = "accepted", _("Accepted")
    REJECTED = "rejected", _("Declined")
    IN_PROGRESS = "in-progress", _("In progress")
    ON_HOLD = "on-hold", _("On hold")
    COMPLETED = "completed", _("Completed")
    FAILED = "failed", _("Could not be delivered")
    CANCELLED = "cancelled", _("Cancelled")
    ENTERED_IN_ERROR = "entered-in-error", _("Entered in error")


class ReferralOutcome(models.TextChoices):
    SERVICE_PROVIDED = "service-provided", _("Service provided")
    PARTIALLY_PROVIDED = "service-provided-partially", _("Service partly provided")
    CLIENT_UNREACHABLE = "client-unreachable", _("Client could not be reached")
    CLIENT_DECLINED = "client-declined", _("Client declined")
    NOT_ELIGIBLE = "not-eligible", _("Not eligible")
    NO_CAPACITY = "no-capacity", _("No capacity")
    REFERRED_ELSEWHERE = "referred-elsewhere", _("Referred elsewhere")


class ReasonCode(models.TextChoices):
    """Why a referral was declined or could not be completed, coded so the dashboard can count
    it (free text in ``status_reason`` says the rest)."""

    NOT_ELIGIBLE = "not-eligible", _("Not eligible")
    NO_CAPACITY = "no-capacity", _("No capacity")
    CLIENT_UNREACHABLE = "client-unreachable", _("Could not reach the client")
    CLIENT_DECLINED = "client-declined", _("Client declined")
    DUPLICATE = "duplicate", _("Duplicate referral")
    OTHER = "other", _("Other")


class Urgency(models.TextChoices):
    ROUTINE = "routine", _("Routine")
    URGENT = "urgent", _("Urgent")


# The statuses a referral ends in (``referrals.lifecycle.TERMINAL`` is this set), in a fixed
# order: an index's expression or condition serves a query only if the query writes the same SQL,
# and a set's order changes from one process to the next.
TERMINAL_STATUSES: tuple[str, ...] = (
    ReferralStatus.CANCELLED,
    ReferralStatus.COMPLETED,
    ReferralStatus.ENTERED_IN_ERROR,
    ReferralStatus.FAILED,
    ReferralStatus.REJECTED,
)


def inbox_due() -> models.Case:
    """The date a received referral is due, as the agency's inbox sorts by it: the answer's
    while requested, else the outcome's; none once closed (its old one would read as overdue).
    The inbox indexes (``Referral.Meta``) hold it."""
    return models.Case(
        models.When(
            status__in=TERMINAL_STATUSES,
            then=models.Value(None, output_field=models.DateTimeField()),
        ),
        models.When(status=ReferralStatus.REQUESTED, then=models.F("response_due_at")),
        default=models.F("outcome_due_at"),
        output_field=models.DateTimeField(),
    )


class Referral(models.Model):
    """A consent-gated handoff of one client's need from a clinic to an agency. Never deleted."""

    network = models.ForeignKey(Network, on_delete=models.PROTECT, related_name="+")
    client = models.ForeignKey(Client, on_delete=models.PROTECT, related_name="referrals")
    sender = models.ForeignKey(
        Organization, on_delete=models.PROTECT, related_name="referrals_sent"
    )
    sent_by = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+")
    agency = models.ForeignKey(
        Organization, on_delete=models.PROTECT, related_name="referrals_received"
    )
    service = models.ForeignKey(
        "directory.ServicePage", on_delete=models.SET_NULL, null=True, related_name="+"
    )
    location = models.ForeignKey(
        "directory.Location", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    service_name = models.CharField(_("service"), max_length=255)
    categories = models.JSONField(_("needs"), default=list)
    urgency = models.CharField(
        _("urgency"), max_length=8, choices=Urgency.choices, default=Urgency.ROUTINE
    )
    note = models.TextField(_("note to the agency"), blank=True)
    consent = models.ForeignKey(
        "consent.Consent", on_delete=models.PROTECT, related_name="referrals"
    )
    agreement = models.ForeignKey(
        "consent.DataSharingAgreement", on_delete=models.PROTECT, related_name="referrals"
    )
    status = models.CharField(
        _("status"), max_length=20, choices=ReferralStatus.choices, db_index=True
    )
    status_reason = models.TextField(_("reason"), blank=True)
    reason_code = models.CharField(
        _("reason code"), max_length=32, choices=ReasonCode.choices, blank=True
    )
    outcome = models.CharField(
        _("outcome"), max_length=32, choices=ReferralOutcome.choices, blank=True
    )
    outcome_note = models.TextField(_("outcome note"), blank=True)
    response_due_at = models.DateTimeField(_("answer due"), null=True, blank=True)
    outcome_due_at = models.DateTimeField(_("outcome due"), null=True, blank=True)
    idempotency_key = models.CharField(max_length=100)
    version = models.PositiveIntegerField(default=1)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    responded_at = models.DateTimeField(null=True, blank=True)
    closed_at = models.DateTimeField(null=True, blank=True)
    # Overdue handling: when each step was taken, so the scheduled sweep never repeats one.
    reminded_at = models.DateTimeField(null=True, blank=True)
    due_reminded_at = models.DateTimeField(null=True, blank=True)
    escalated_at = models.DateTimeField(null=True, blank=True)
    outcome_reminded_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        indexes = [
            models.Index(fields=["agency", "status", "response_due_at"]),
            models.Index(fields=["sender", "status", "created_at"]),
            models.Index(fields=["client", "created_at"]),
            # The clinic's tracker, newest first.
            models.Index(fields=["sender", "sent_at", "id"]),
            # The network dashboard: a period's referrals with every column its figures read
            # (``id`` too, for COUNT), so PostgreSQL answers from the index alone.
            models.Index(
                fields=["network", "sent_at"],
                include=[
                    "id",
                    "status",
                    "agency",
                    "agreement",
                    "responded_at",
                    "closed_at",
                    "response_due_at",
                    "outcome_due_at",
                    "outcome",
                    "reason_code",
                    "categories",
                ],
                name="referral_network_period",
            ),
            # The dashboard's snapshot stamp: the network's latest referral change.
            models.Index(fields=["network", "updated_at"], name="referral_network_changed"),
            # FHIR polling: Task?owner=…&_lastUpdated=gt… (and ?requester=…), oldest change first.
            models.Index(fields=["agency", "updated_at", "id"], name="referral_agency_changed"),
            models.Index(fields=["sender", "updated_at", "id"], name="referral_sender_changed"),
            # The tracker's agency filter: the agencies a clinic referred to, a probe each
            # (referrals.selectors.tracker.agencies_referred_to).
            models.Index(fields=["sender", "agency"], name="referral_sender_agency"),
            # The tracker's count of a filter (``referrals_sent_count_kept``): every column its
            # filters read (status, need, agency, overdue, sent dates), so PostgreSQL counts a
            # clinic's referrals from the index alone rather than from the wide table (a status
            # or need filter over 100,000 referrals: 46 -> 11-16 ms).
            models.Index(
                fields=["sender", "status"],
                include=["sent_at", "agency", "categories", "response_due_at", "outcome_due_at"],
                condition=Q(sent_at__isnull=False),
                name="referral_sent_counts",
            ),
            # The agency's inbox, a page at any depth read from an index alone: by due date
            # both ways (``referrals.selectors.inbox``), and the closed ones by closing date
            # (the other way round is this one read backwards). PostgreSQL only: SQLite
            # refuses NULLS LAST in an index.
            PostgreSQLIndex(
                models.F("agency"),
                inbox_due().asc(nulls_last=True),
                models.F("closed_at").desc(nulls_last=True),
                models.F("id"),
                include=["status", "response_due_at", "outcome_due_at"],
                name="referral_inbox_due",
            ),
            PostgreSQLIndex(
                models.F("agency"),
                inbox_due().desc(nulls_last=True),
                models.F("closed_at").desc(nulls_last=True),
                models.F("id").desc(),
                include=["status", "response_due_at", "outcome_due_at"],
                name="referral_inbox_due_desc",
            ),
            PostgreSQLIndex(
                models.F("agency"),
                models.F("closed_at").desc(nulls_last=True),
                models.F("id").desc(),
                include=["status"],
                condition=Q(status__in=TERMINAL_STATUSES),
                name="referral_inbox_closed",
            ),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["sender", "idempotency_key"], name="referral_idempotency_key_per_sender"
            ),
            models.CheckConstraint(condition=Q(version__gte=1), name="referral_version_positive"),
        ]

    def __str__(self) -> str:
        return f"Referral #{self.pk} to {self.service_name}"

    def delete(self, *args: object, **kwargs: object) -> tuple[int, dict[str, int]]:
        raise ValueError("Referrals are never deleted; cancel or mark entered-in-error.")

    # For lists: Django's get_FOO_display() hashes every choice's translated label on each call
    # (ten translations per row of a list); these look the label up.
    @property
    def status_label(self) -> str:
        return str(STATUS_LABELS.get(self.status, self.status))

    @property
    def urgency_label(self) -> str:
        return str(URGENCY_LABELS.get(self.urgency, self.urgency))

    @property
    def outcome_label(self) -> str:
        return str(OUTCOME_LABELS.get(self.outcome, self.outcome))

    @property
    def reason_label(self) -> str:
        return str(REASON_LABELS.get(self.reason_code, self.reason_code))


# Each code's label (lazy: translated where it is shown), for a page that writes many rows
# (``referrals.views.rows.Labels``) and for the properties above.
STATUS_LABELS = dict(ReferralStatus.choices)
URGENCY_LABELS = dict(Urgency.choices)
OUTCOME_LABELS = dict(ReferralOutcome.choices)
REASON_LABELS = dict(ReasonCode.choices)


class EventKind(models.TextChoices):
    CREATED = "created", _("Sent")
    VIEWED = "viewed", _("Opened by the agency")
    STATUS = "status", _("Status changed")
    MESSAGE = "message", _("Message")
    REMINDER = "reminder", _("Reminder")
    ESCALATION = "escalation", _("Escalated")
    CONSENT_REVOKED = "consent_revoked", _("Consent revoked")
    CONSENT_EXPIRED = "consent_expired", _("Consent expired")


class ReferralEvent(AppendOnlyModel):
    """The append-only timeline of a referral: who did what, when."""

    referral = models.ForeignKey(Referral, on_delete=models.PROTECT, related_name="events")
    kind = models.CharField(max_length=20, choices=EventKind.choices)
    at = models.DateTimeField()
    actor = models.ForeignKey(
        User, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    organization = models.ForeignKey(
        Organization, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    from_status = models.CharField(max_length=20, blank=True)
    to_status = models.CharField(max_length=20, blank=True)
    text = models.TextField(blank=True)

    class Meta:
        ordering = ["at", "pk"]
        indexes = [models.Index(fields=["referral", "at"])]

    def __str__(self) -> str:
        return f"{self.kind} on referral {self.referral_id}"


# --- notifications (outbox) ------------------------------------------------------------------


class Channel(models.TextChoices):
    EMAIL = "email", _("Email")
    IN_APP = "in_app", _("In the app")


class Notification(models.Model):
    """Outbox: written in the transaction of the change it announces, delivered by a task.

    An undelivered row is retried with backoff (at most every six hours, never given up); a sweep
    delivers rows a lost task left behind, so an outage of the broker or the mail server delays,
    never loses.
    """

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="notifications")
    referral = models.ForeignKey(
        Referral, on_delete=models.PROTECT, null=True, blank=True, related_name="notifications"
    )
    channel = models.CharField(max_length=8, choices=Channel.choices)
    kind = models.CharField(max_length=40)
    subject = models.CharField(max_length=200)
    body = models.TextField()
    link = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    next_attempt_at = models.DateTimeField(null=True, blank=True, db_index=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    last_error = models.CharField(max_length=300, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)
    # Set (and committed) before the mail server is spoken to, cleared when the row is marked:
    # a worker never sends inside a transaction (referrals.outbox.notification_deliver).
    sending_since = models.DateTimeField(null=True, blank=True)
    read_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        indexes = [
            models.Index(
                fields=["next_attempt_at"],
                condition=Q(delivered_at__isnull=True),
                name="notification_undelivered",
            ),
            models.Index(fields=["user", "channel", "read_at"]),
        ]

    def __str__(self) -> str:
        return f"{self.channel} to {self.user_id}: {self.subject}"


# --- FHIR: a ServiceRequest posted before its Task --------------------------------------------


class ServiceRequestRecord(models.Model):
    """A ServiceRequest an EHR posted through the FHIR API: what it asks for, until the Task
    that sends it (``referrals.fhir``) makes the referral under the same rules as the send page.

    Holds the parsed request only (no copy of the posted JSON): the client, the service, the
    needs, the consent named in ``supportingInfo`` and the note.
    """

    network = models.ForeignKey(Network, on_delete=models.PROTECT, related_name="+")
    requester = models.ForeignKey(Organization, on_delete=models.PROTECT, related_name="+")
    client = models.ForeignKey(Client, on_delete=models.PROTECT, related_name="+")
    service = models.ForeignKey("directory.ServicePage", on_delete=models.PROTECT, related_name="+")
    location = models.ForeignKey(
        "directory.Location", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    categories = models.JSONField(default=list)
    code = models.JSONField(default=dict, help_text=_("The requested service's coding, as sent."))
    consent = models.ForeignKey(
        "consent.Consent", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    urgency = models.CharField(max_length=8, choices=Urgency.choices, default=Urgency.ROUTINE)
    note = models.TextField(blank=True)
    created_by = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    referral = models.OneToOneField(
        Referral, on_delete=models.PROTECT, null=True, blank=True, related_name="service_request"
    )

    class Meta:
        ordering = ["-created_at", "-pk"]

    def __str__(self) -> str:
        return f"ServiceRequest #{self.pk}"


# --- FHIR: subscriptions (the R5 backport on R4) and their notifications outbox ----------------


class FhirSubscriptionStatus(models.TextChoices):
    """Subscription.status: ``requested`` until the handshake is delivered, ``active`` while
    deliveries succeed, ``error`` while one fails (still retried), ``off`` when switched off."""

    REQUESTED = "requested", _("Requested")
    ACTIVE = "active", _("Active")
    ERROR = "error", _("Error")
    OFF = "off", _("Off")


class FhirPayloadContent(models.TextChoices):
    """How much a notification carries (``backport-payload-content``): never the resource."""

    EMPTY = "empty", _("Empty")
    ID_ONLY = "id-only", _("Ids only")


class FhirSubscription(models.Model):
    """A system's subscription to the SDOHCC Task topic: a rest-hook that is told when a Task
    its organization owns or requested is created or changes status (``referrals.fhir``).

    Filters are kept both as sent (``filters``, echoed back) and parsed (``owner``,
    ``requester``, ``statuses``, ``codes``); an owner or requester is always the system's own
    organization, so a subscriber only ever hears of its own referrals.
    """

    network = models.ForeignKey(Network, on_delete=models.PROTECT, related_name="+")
    client = models.ForeignKey(
        "network.ApiClient", on_delete=models.CASCADE, related_name="fhir_subscriptions"
    )
    topic = models.CharField(max_length=255)
    filters = models.JSONField(default=list, help_text=_("Criteria as sent, e.g. Task?owner=…"))
    owner = models.ForeignKey(
        Organization, on_delete=models.CASCADE, null=True, blank=True, related_name="+"
    )
    requester = models.ForeignKey(
        Organization, on_delete=models.CASCADE, null=True, blank=True, related_name="+"
    )
    statuses = models.JSONField(default=list, help_text=_("Task statuses; empty: any."))
    codes = models.JSONField(default=list, help_text=_("Task codes; empty: any."))
    reason = models.CharField(max_length=1000)
    end_at = models.DateTimeField(null=True, blank=True)
    # The FHIR base URL the system subscribed at: notifications name resources under it.
    server_base = models.CharField(max_length=500)
    endpoint = models.URLField(max_length=2000)
    headers = models.JSONField(default=list, help_text=_("“Name: value” HTTP headers to send."))
    content = models.CharField(
        max_length=10, choices=FhirPayloadContent.choices, default=FhirPayloadContent.ID_ONLY
    )
    heartbeat_seconds = models.PositiveIntegerField(null=True, blank=True)
    timeout_seconds = models.PositiveSmallIntegerField(default=10)
    status = models.CharField(
        max_length=10,
        choices=FhirSubscriptionStatus.choices,
        default=FhirSubscriptionStatus.REQUESTED,
    )
    # Short and free of client data: what the last delivery failure was ("HTTP 503").
    error = models.CharField(max_length=200, blank=True)
    events_since_start = models.PositiveBigIntegerField(default=0)
    last_sent_at = models.DateTimeField(null=True, blank=True)
    last_heartbeat_at = models.DateTimeField(null=True, blank=True)
    version = models.PositiveIntegerField(default=1)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["pk"]
        indexes = [models.Index(fields=["network", "status"], name="fhir_subscription_live")]
        constraints = [
            models.CheckConstraint(
                condition=Q(timeout_seconds__gte=1, timeout_seconds__lte=60),
                name="fhir_subscription_timeout_range",
            ),
        ]

    def __str__(self) -> str:
        return f"Subscription #{self.pk} of client {self.client_id}"


class FhirNotificationKind(models.TextChoices):
    HANDSHAKE = "handshake", _("Handshake")
    HEARTBEAT = "heartbeat", _("Heartbeat")
    EVENT = "event-notification", _("Event")


class FhirNotification(models.Model):
    """Outbox of a subscription: written in the transaction of what it announces, sent in
    order (a row only once the one before it was delivered), retried with backoff, never
    given up. Holds ids and numbers only, no client data."""

    subscription = models.ForeignKey(
        FhirSubscription, on_delete=models.CASCADE, related_name="notifications"
    )
    kind = models.CharField(max_length=20, choices=FhirNotificationKind.choices)
    # An event's own number; for a handshake or heartbeat, the subscription's count of events
    # when it was written (its ``events-since-subscription-start``).
    event_number = models.PositiveBigIntegerField()
    focus = models.ForeignKey(
        Referral, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    # The referral event's instant for an event; else when the row was written.
    created_at = models.DateTimeField()
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField()
    last_error = models.CharField(max_length=200, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["subscription_id", "pk"]
        indexes = [
            # A subscription's next row to send, and the sweep's rows due.
            models.Index(
                fields=["subscription", "id"],
                condition=Q(delivered_at__isnull=True),
                name="fhir_notification_queue",
            ),
            models.Index(
                fields=["next_attempt_at"],
                condition=Q(delivered_at__isnull=True),
                name="fhir_notification_due",
            ),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["subscription", "event_number"],
                condition=Q(kind="event-notification"),
                name="fhir_notification_event_number_once",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.event_number} of subscription {self.subscription_id}"
