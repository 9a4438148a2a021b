"""FHIR: consents."""

from ninja import Router

router = Router()
