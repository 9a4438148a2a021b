"""The SDOH categories (Gravity Project SDOHCC temporary codes): facts from the code system."""

from __future__ import annotations

SDOHCC_SYSTEM = (
    "http://hl7.org/fhir/us/sdoh-clinicalcare/CodeSystem/SDOHCC-CodeSystemTemporaryCodes"
)

# (code, display) in the code system's order.
SDOH_CATEGORIES: tuple[tuple[str, str], ...] = (
    ("food-insecurity", "Food Insecurity"),
    ("housing-instability", "Housing Instability"),
    ("homelessness", "Homelessness"),
    ("inadequate-housing", "Inadequate Housing"),
    ("transportation-insecurity", "Transportation Insecurity"),
    ("utility-insecurity", "Utility Insecurity"),
    ("financial-insecurity", "Financial Insecurity"),
    ("material-hardship", "Material Hardship"),
    ("intimate-partner-violence", "Intimate Partner Violence"),
    ("elder-abuse", "Elder Abuse"),
    ("employment-status", "Employment Status"),
    ("educational-attainment", "Educational Attainment"),
    ("veteran-status", "Veteran Status"),
    ("stress", "Stress"),
    ("social-connection", "Social Connection"),
    ("personal-health-literacy", "Personal Health Literacy"),
    ("health-insurance-coverage-status", "Health Insurance Coverage Status"),
    ("medical-cost-burden", "Medical Cost Burden"),
    ("digital-literacy", "Digital Literacy"),
    ("digital-access", "Digital Access"),
    ("incarceration-status", "Incarceration Status"),
    ("language-access", "Language Access"),
    ("sdoh-category-unspecified", "SDOH Category Unspecified"),
)

# Interpersonal safety: disclosed only under consent that names the recipient.
SENSITIVE_CATEGORY_CODES: frozenset[str] = frozenset({"intimate-partner-violence", "elder-abuse"})
