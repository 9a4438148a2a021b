"""FHIR: screenings."""

from ninja import Router

router = Router()
