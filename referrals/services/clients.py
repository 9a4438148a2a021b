"""Clients and their screenings: creating a client (with the duplicate check) and recording an
AHC HRSN screening."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from network.models import (
    Organization,
    User,
)
from network.permissions import (
    OrgPerm,
    user_has_org_perm,
)
from referrals.errors import PossibleDuplicate
from referrals.models import (
    Client,
    Screening,
)
from referrals.screening import score_ahc_hrsn
from referrals.selectors.clients import client_duplicates

_CLIENT_FIELDS = (
    "phone",
    "email",
    "address_1",
    "city",
    "state",
    "postal_code",
    "preferred_language",
    "external_id",
    "contact_preference",
    "contact_notes",
    "do_not_contact",
)


def clinic_staff_check(by: User, organization: Organization) -> None:
    if not organization.sends_referrals or not user_has_org_perm(
        by, OrgPerm.SEND_REFERRALS, organization
    ):
        raise PermissionDenied(_("Only the clinic's staff may do this."))


@transaction.atomic
def client_create(
    *,
    organization: Organization,
    by: User,
    first_name: str,
    last_name: str,
    date_of_birth: date,
    confirm_new: bool = False,
    **details: Any,
) -> Client:
    """A new client of ``organization``.

    Raises PossibleDuplicate (listing the similar clients ``by`` may see) unless ``confirm_new``;
    ValidationError for bad input.
    """

    clinic_staff_check(by, organization)
    unknown = set(details) - set(_CLIENT_FIELDS)
    if unknown:
        raise TypeError(f"unknown client fields: {sorted(unknown)}")
    client = Client(
        network=organization.network,
        organization=organization,
        first_name=first_name.strip(),
        last_name=last_name.strip(),
        date_of_birth=date_of_birth,
        created_by=by,
        **details,
    )
    client.full_clean(exclude=["network", "organization", "created_by"])
    if date_of_birth > timezone.localdate():
        raise ValidationError({"date_of_birth": _("The date of birth is in the future.")})
    if not confirm_new:
        candidates = client_duplicates(
            user=by,
            organization=organization,
            first_name=client.first_name,
            last_name=client.last_name,
            date_of_birth=date_of_birth,
        )
        if candidates:
            raise PossibleDuplicate(candidates)
    client.save()
    return client


_EDITABLE = ("first_name", "last_name", "date_of_birth", *_CLIENT_FIELDS)


@transaction.atomic
def client_update(
    *, client: Client, by: User, organization: Organization, **changes: Any
) -> Client:
    """Change a client's details (name, birth date, contact, language …) as the client's
    clinic's staff; ValidationError for bad input, and nothing is written."""

    clinic_staff_check(by, organization)
    if client.organization_id != organization.pk or client.merged_into_id is not None:
        raise PermissionDenied(_("Only the client's clinic may change their details."))
    unknown = set(changes) - set(_EDITABLE)
    if unknown:
        raise TypeError(f"unknown client fields: {sorted(unknown)}")
    for name, value in changes.items():
        setattr(client, name, value.strip() if isinstance(value, str) else value)
    client.full_clean(exclude=["network", "organization", "created_by", "merged_into"])
    if client.date_of_birth > timezone.localdate():
        raise ValidationError({"date_of_birth": _("The date of birth is in the future.")})
    client.save()
    return client


@transaction.atomic
def screening_record(
    *,
    client: Client,
    by: User,
    organization: Organization,
    answers: dict[str, Any],
    performed_at: datetime | None = None,
) -> Screening:
    """Score and store an AHC HRSN screening; InvalidScreening (a ValueError) lists bad answers."""

    clinic_staff_check(by, organization)
    if client.organization_id != organization.pk:
        raise PermissionDenied(_("Only the client's clinic may screen them."))
    result = score_ahc_hrsn(answers)
    return Screening.objects.create(
        client=client,
        organization=organization,
        performed_by=by,
        performed_at=performed_at or timezone.now(),
        answers={k: list(v) if isinstance(v, list | tuple) else v for k, v in answers.items()},
        positive_categories=sorted(result.positive_categories),
        safety_score=result.safety_score,
        incomplete=sorted(result.incomplete),
    )
