"""FHIR R4 for EHRs, following the HL7 Gravity "SDOH Clinical Care" guide: one API per network
(on the network's host, under ``/fhir/r4/``), signed in with SMART Backend Services.

Every operation reads, authorizes and calls the same selectors and services as the workspace
pages (``referrals.services``, ``consent.services``): a FHIR client is held to the same
consent, agreement and tenancy rules as a person, and its reads are logged under its name.
Errors are OperationOutcomes (``base.operation_outcome``), bodies ``application/fhir+json``.
"""

from cms.api import api_make

from . import (
    capability,
    consents,
    directory,
    orders,
    patients,
    screenings,
    subscriptions,
    transactions,
)
from .base import FhirRenderer, SmartBearer, operation_outcome

api = api_make(
    title="Handoff FHIR R4 (SDOH Clinical Care)",
    version="4.0.1",
    urls_namespace="fhir",
    description=(
        "FHIR R4 for EHRs, following the HL7 Gravity SDOH Clinical Care guide. Sign in with "
        "SMART Backend Services (`.well-known/smart-configuration`)."
    ),
    auth=SmartBearer(),
    renderer=FhirRenderer(),
    errors=operation_outcome,
)

for _module in (
    capability,
    patients,
    screenings,
    consents,
    orders,
    directory,
    subscriptions,
    transactions,
):
    api.add_router("", _module.router)
