"""FHIR: patients."""

from ninja import Router

router = Router()
