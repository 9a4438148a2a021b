"""Consents and data-sharing agreements for tests, recorded through the services."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import Any

from consent import services as consent_services
from consent.models import Consent, DataSharingAgreement
from network.models import Organization, User
from referrals.models import Client

ATTESTATION = "I read the standard consent script."


def agreement_in_force(
    *,
    agency: Organization,
    by: User,
    fields: Sequence[str],
    effective_from: date = date(2026, 1, 1),
    **details: Any,
) -> DataSharingAgreement:
    """An agreement of ``agency``, made and put in force by the network admin ``by``."""
    agreement = consent_services.agreement_create(
        by=by, agency=agency, fields=list(fields), effective_from=effective_from, **details
    )
    return consent_services.agreement_activate(agreement=agreement, by=by)


def consent_verbal(
    *,
    client: Client,
    by: User,
    organization: Organization,
    categories: Sequence[str],
    **details: Any,
) -> Consent:
    """A verbal consent of ``client``, attested by ``by`` at the client's clinic."""
    details.setdefault("attestation", ATTESTATION)
    return consent_services.consent_record(
        client=client,
        by=by,
        organization=organization,
        categories=list(categories),
        method="verbal",
        **details,
    )
