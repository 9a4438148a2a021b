"""The SDOH categories (Gravity Project SDOHCC temporary codes): facts from the code system,
and the plain names people read for them.

``SDOH_CATEGORIES`` keeps the code system's own displays (“Food Insecurity”): exports and the
FHIR/HSDS records carry those. Pages show ``need_label`` (“Food”), translated; the codes never
change underneath.
"""

from __future__ import annotations

from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

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

# What people read: short, plain, translated (code → name), in the code system's order.
NEED_LABELS: dict[str, Promise] = {
    "food-insecurity": _("Food"),
    "housing-instability": _("Housing"),
    "homelessness": _("Shelter"),
    "inadequate-housing": _("Housing conditions"),
    "transportation-insecurity": _("Transportation"),
    "utility-insecurity": _("Utilities"),
    "financial-insecurity": _("Money"),
    "material-hardship": _("Basic necessities"),
    "intimate-partner-violence": _("Domestic violence"),
    "elder-abuse": _("Elder abuse"),
    "employment-status": _("Jobs"),
    "educational-attainment": _("Education"),
    "veteran-status": _("Veterans"),
    "stress": _("Stress"),
    "social-connection": _("Loneliness"),
    "personal-health-literacy": _("Understanding health information"),
    "health-insurance-coverage-status": _("Health insurance"),
    "medical-cost-burden": _("Medical bills"),
    "digital-literacy": _("Computer skills"),
    "digital-access": _("Internet and devices"),
    "incarceration-status": _("After jail or prison"),
    "language-access": _("Language help"),
    "sdoh-category-unspecified": _("Other needs"),
}

# (code, plain name) for choices, in the code system's order.
NEED_CHOICES: tuple[tuple[str, Promise], ...] = tuple(
    (code, NEED_LABELS[code]) for code, _display in SDOH_CATEGORIES
)


def need_label(code: str) -> str:
    """The plain name of the need ``code`` in the active language (the code itself when it is
    not one)."""
    label = NEED_LABELS.get(code)
    return str(label) if label is not None else code


def need_labels(codes: list[str] | tuple[str, ...]) -> list[str]:
    return [need_label(code) for code in codes]
