"""Clients as the clinic's staff see them: visibility, the duplicate check, finding a client,
and a client's screenings, consents and referrals."""

from __future__ import annotations

import difflib
import re
from datetime import date
from typing import TYPE_CHECKING

from django.db.models import Count, IntegerField, OuterRef, Q, QuerySet, Subquery
from django.db.models.functions import Coalesce

from consent.models import Consent
from network.models import Organization
from network.permissions import OrgPerm, user_has_org_perm
from referrals.lifecycle import TERMINAL
from referrals.models import Client, Referral, Screening
from referrals.names import word_key
from referrals.selectors.referrals import referrals_visible
from search.text import fold

if TYPE_CHECKING:
    from network.models import User


DUPLICATE_NAME_SIMILARITY = 0.8


def clients_visible(*, user: User, organization: Organization) -> QuerySet[Client]:
    """Clients of ``organization`` when ``user`` is its clinic staff; nobody else's."""
    if not organization.sends_referrals or not user_has_org_perm(
        user, OrgPerm.SEND_REFERRALS, organization
    ):
        return Client.objects.none()
    # A duplicate merged into another record is gone from every list and page.
    return Client.objects.filter(organization=organization, merged_into__isnull=True)


def client_duplicates(
    *,
    user: User,
    organization: Organization,
    first_name: str,
    last_name: str,
    date_of_birth: date,
) -> list[Client]:
    """Clients ``user`` may see with the same date of birth and a similar name.

    Only the clinic's own clients are compared: another clinic's clients are not visible to it,
    so the check cannot reveal who they serve.
    """
    same_birthday = clients_visible(user=user, organization=organization).filter(
        date_of_birth=date_of_birth
    )
    return [
        client
        for client in same_birthday
        if names_similar((first_name, last_name), (client.first_name, client.last_name))
    ]


def names_similar(a: tuple[str, str], b: tuple[str, str]) -> bool:
    """(first, last) pairs that may be one person: the same last name and first initial
    ("Maria Lopez" / "M. López"), or close spellings of the whole name ("Jon Smyth" / "John
    Smith"). Case, accents and punctuation are ignored."""

    first_a, last_a = (" ".join(fold(p).replace("-", " ").split()) for p in a)
    first_b, last_b = (" ".join(fold(p).replace("-", " ").split()) for p in b)
    if last_a == last_b and first_a[:1] == first_b[:1]:
        return True
    whole = difflib.SequenceMatcher(None, f"{last_a} {first_a}", f"{last_b} {first_b}")
    return whole.ratio() >= DUPLICATE_NAME_SIMILARITY


# --- clinic workspace ------------------------------------------------------------------------


def clients_find(*, user: User, organization: Organization, text: str = "") -> QuerySet[Client]:
    """The clinic's clients (as ``clients_visible``) matching every word of ``text``, by name
    (part of the first or last name, or a word that sounds like one of them), date of birth
    (2026-01-31 or 1/31/2026) or medical record number (exact), each with ``last_screened_at``
    and ``open_referral_count``."""

    qs = clients_visible(user=user, organization=organization)
    for word in text.split()[:8]:
        born = _parse_birth_date(word)
        if born is not None:
            qs = qs.filter(date_of_birth=born)
        else:
            qs = qs.filter(name_matches(word) | Q(external_id__iexact=word))
    last_screened = (
        Screening.objects.filter(client=OuterRef("pk"))
        .order_by("-performed_at")
        .values("performed_at")[:1]
    )
    open_referrals = (
        Referral.objects.filter(client=OuterRef("pk"), sender=organization)
        .exclude(status__in=TERMINAL)
        .order_by()
        .values("client")
        .annotate(n=Count("pk"))
        .values("n")
    )
    return qs.annotate(
        last_screened_at=Subquery(last_screened),
        open_referral_count=Coalesce(Subquery(open_referrals, output_field=IntegerField()), 0),
    ).order_by("last_name", "first_name", "pk")


def name_matches(word: str, prefix: str = "") -> Q:
    """Clients (through ``prefix``, e.g. ``"client__"``) whose first or last name contains
    ``word``, or one of whose name's words sounds like it ("hernandes" finds "Hernandez"):
    the phonetic key is stored on the client, so this works alike on every database."""
    match = Q(**{f"{prefix}first_name__icontains": word}) | Q(
        **{f"{prefix}last_name__icontains": word}
    )
    code = word_key(word)
    if len(code) >= 2:  # a one-letter code ("A") would match half the clinic
        match |= Q(**{f"{prefix}name_key__contains": f" {code} "})
    return match


def _parse_birth_date(word: str) -> date | None:
    """A date typed the ISO way or the US way; None when the word is not a date."""

    us = re.fullmatch(r"(\d{1,2})/(\d{1,2})/(\d{4})", word)
    try:
        if us:
            return date(int(us[3]), int(us[1]), int(us[2]))
        return date.fromisoformat(word) if re.fullmatch(r"\d{4}-\d{2}-\d{2}", word) else None
    except ValueError:  # 2/30/1990: a date-shaped word that is no date
        return None


def client_screenings(*, client: Client) -> QuerySet[Screening]:
    """The client's screenings, newest first, with who performed them (call after checking
    access to the client)."""
    return client.screenings.select_related("performed_by").order_by("-performed_at", "-pk")


def client_consents(*, client: Client) -> QuerySet[Consent]:
    """The client's consents, newest first, with their recipients and who recorded or revoked
    them (call after checking access to the client)."""

    return (
        Consent.objects.filter(client=client)
        .select_related("recorded_by", "revoked_by")
        .prefetch_related("recipients", "sensitive_recipients")
        .order_by("-granted_at", "-pk")
    )


def client_referrals(
    *, user: User, organization: Organization, client: Client
) -> QuerySet[Referral]:
    """Referrals of ``client`` that ``organization`` may see (as ``referrals_visible``), newest
    first, with their agencies."""
    return (
        referrals_visible(user=user, organization=organization)
        .filter(client=client)
        .select_related("agency")
        .order_by("-created_at", "-pk")
    )
