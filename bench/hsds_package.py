"""A synthetic but realistic HSDS 3.0 Tabular Data Package, for benchmarking the importer.

``write_package(folder, services=20_000)`` writes one CSV per HSDS table plus
``datapackage.json``: agencies spread over California (real ZIP codes, cities and counties from
the ``zipcodes`` package, coordinates near each ZIP's centroid), one or two locations each, and
services with SDOH categories, fee and referral attributes, a service type, languages, weekly
hours (some overnight, some at weekends), required documents, cost options and ZIP service areas.

Rows are streamed to the CSV files as they are made, so memory stays flat however many services
are asked for. The same seed gives the same rows and the same ids (uuid5 over Handoff's HSDS
namespace), so writing a package twice and importing both is an idempotent re-import.

    python -m bench.hsds_package OUT_DIR --services 20000
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import json
import random
import re
import sys
import uuid
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import zipcodes

from cms.categories import SDOH_CATEGORIES
from directory.hsds.records import NAMESPACE, handoff_taxonomies, well_known_term_id

# --- the tables: column -> Table Schema type ----------------------------------------------------

COLUMNS: dict[str, tuple[tuple[str, str], ...]] = {
    "organizations": (
        ("id", "string"),
        ("name", "string"),
        ("alternate_name", "string"),
        ("description", "string"),
        ("email", "string"),
        ("website", "string"),
        ("tax_status", "string"),
        ("tax_id", "string"),
        ("year_incorporated", "integer"),
        ("legal_status", "string"),
    ),
    "locations": (
        ("id", "string"),
        ("organization_id", "string"),
        ("location_type", "string"),
        ("name", "string"),
        ("alternate_name", "string"),
        ("description", "string"),
        ("transportation", "string"),
        ("latitude", "number"),
        ("longitude", "number"),
    ),
    "addresses": (
        ("id", "string"),
        ("location_id", "string"),
        ("attention", "string"),
        ("address_1", "string"),
        ("address_2", "string"),
        ("city", "string"),
        ("region", "string"),
        ("state_province", "string"),
        ("postal_code", "string"),
        ("country", "string"),
        ("address_type", "string"),
    ),
    "accessibility": (
        ("id", "string"),
        ("location_id", "string"),
        ("description", "string"),
        ("details", "string"),
        ("url", "string"),
    ),
    "phones": (
        ("id", "string"),
        ("organization_id", "string"),
        ("location_id", "string"),
        ("service_id", "string"),
        ("number", "string"),
        ("extension", "string"),
        ("type", "string"),
        ("description", "string"),
    ),
    "services": (
        ("id", "string"),
        ("organization_id", "string"),
        ("name", "string"),
        ("alternate_name", "string"),
        ("description", "string"),
        ("url", "string"),
        ("email", "string"),
        ("status", "string"),
        ("interpretation_services", "string"),
        ("application_process", "string"),
        ("fees_description", "string"),
        ("wait_time", "string"),
        ("eligibility_description", "string"),
        ("minimum_age", "integer"),
        ("maximum_age", "integer"),
        ("alert", "string"),
    ),
    "service_at_location": (
        ("id", "string"),
        ("service_id", "string"),
        ("location_id", "string"),
        ("description", "string"),
    ),
    "schedules": (
        ("id", "string"),
        ("service_id", "string"),
        ("location_id", "string"),
        ("service_at_location_id", "string"),
        ("freq", "string"),
        ("interval", "integer"),
        ("byday", "string"),
        ("opens_at", "time"),
        ("closes_at", "time"),
        ("description", "string"),
    ),
    "languages": (
        ("id", "string"),
        ("service_id", "string"),
        ("location_id", "string"),
        ("phone_id", "string"),
        ("name", "string"),
        ("code", "string"),
        ("note", "string"),
    ),
    "service_areas": (
        ("id", "string"),
        ("service_id", "string"),
        ("name", "string"),
        ("description", "string"),
        ("extent_type", "string"),
    ),
    "required_documents": (
        ("id", "string"),
        ("service_id", "string"),
        ("document", "string"),
        ("uri", "string"),
    ),
    "cost_options": (
        ("id", "string"),
        ("service_id", "string"),
        ("option", "string"),
        ("currency", "string"),
        ("amount", "number"),
        ("amount_description", "string"),
    ),
    "taxonomies": (
        ("id", "string"),
        ("name", "string"),
        ("description", "string"),
        ("uri", "string"),
        ("version", "string"),
    ),
    "taxonomy_terms": (
        ("id", "string"),
        ("code", "string"),
        ("name", "string"),
        ("description", "string"),
        ("parent_id", "string"),
        ("taxonomy", "string"),
        ("taxonomy_id", "string"),
        ("language", "string"),
    ),
    "attributes": (
        ("id", "string"),
        ("link_id", "string"),
        ("link_type", "string"),
        ("link_entity", "string"),
        ("taxonomy_term_id", "string"),
        ("value", "string"),
        ("label", "string"),
    ),
}

# --- word lists --------------------------------------------------------------------------------

# Per SDOH category: (service name, a sentence about what it does).
SERVICES_BY_CATEGORY: dict[str, tuple[tuple[str, str], ...]] = {
    "food-insecurity": (
        ("Food Pantry", "Clients choose groceries, fresh produce and dairy once a week."),
        (
            "Hot Meals Program",
            "A hot, nutritious lunch is served every weekday, no questions asked.",
        ),
        ("CalFresh Enrollment Help", "Staff help households apply for and keep CalFresh benefits."),
        ("Senior Grocery Delivery", "Volunteers deliver a box of groceries to homebound seniors."),
        (
            "Mobile Food Distribution",
            "A refrigerated truck brings fresh food to rural neighborhoods.",
        ),
        ("WIC Nutrition Support", "Families with young children get nutrition coaching and WIC."),
    ),
    "housing-instability": (
        ("Rental Assistance", "One-time help with back rent for tenants facing eviction."),
        (
            "Eviction Prevention",
            "Tenant counselors and attorneys help respond to eviction notices.",
        ),
        (
            "Security Deposit Assistance",
            "Grants cover a deposit or first month's rent for a new home.",
        ),
        ("Housing Navigation", "A navigator helps search for, apply to and move into housing."),
        ("Tenant Rights Counseling", "Advice on repairs, rent increases and lease problems."),
    ),
    "homelessness": (
        ("Emergency Shelter", "Beds, showers and meals for adults experiencing homelessness."),
        ("Street Outreach", "Outreach workers bring supplies and case management to encampments."),
        ("Rapid Rehousing", "Short-term rent help and case management to end homelessness fast."),
        ("Drop-in Center", "Showers, laundry, mail service and a place to rest during the day."),
        ("Family Shelter", "Private rooms for families with children while they find housing."),
    ),
    "inadequate-housing": (
        ("Home Repair Program", "Free critical repairs for low-income homeowners, such as roofs."),
        (
            "Weatherization Services",
            "Insulation, windows and heating upgrades that cut energy bills.",
        ),
        ("Lead Hazard Control", "Testing and removal of lead paint in homes with young children."),
    ),
    "transportation-insecurity": (
        ("Medical Ride Program", "Door-to-door rides to medical, dental and pharmacy visits."),
        (
            "Bus Pass Assistance",
            "Free or reduced-fare transit passes for job seekers and students.",
        ),
        ("Dial-a-Ride", "Shared curb-to-curb rides for seniors and people with disabilities."),
    ),
    "utility-insecurity": (
        ("Utility Bill Assistance", "Help paying overdue gas, electric and water bills."),
        ("LIHEAP Energy Assistance", "Federal energy assistance applications and crisis payments."),
        ("Water Shutoff Prevention", "Payment plans and grants that keep the water running."),
    ),
    "financial-insecurity": (
        ("Free Tax Preparation", "IRS-certified volunteers prepare and e-file tax returns."),
        ("Financial Coaching", "One-on-one coaching on budgets, credit and debt."),
        ("Emergency Cash Assistance", "Small one-time grants for an unexpected expense."),
        ("Benefits Enrollment", "Screening and applications for CalFresh, Medi-Cal and SSI."),
    ),
    "material-hardship": (
        ("Clothing Closet", "Free clothing, shoes and coats for all ages, including interviews."),
        ("Diaper Bank", "Diapers, wipes and formula for families with infants."),
        ("Furniture Bank", "Beds, tables and household goods for people moving into housing."),
        ("Baby Supplies Program", "Car seats, cribs and baby clothes for new parents."),
    ),
    "intimate-partner-violence": (
        (
            "Domestic Violence Hotline",
            "Confidential crisis support and safety planning, day or night.",
        ),
        ("Confidential Safe Shelter", "Emergency shelter at an undisclosed address for survivors."),
        ("Legal Advocacy for Survivors", "Help with restraining orders and court accompaniment."),
    ),
    "elder-abuse": (
        ("Elder Abuse Prevention", "Advocates respond to reports of abuse, neglect and scams."),
        ("Senior Legal Services", "Free legal advice on elder abuse, housing and benefits."),
    ),
    "employment-status": (
        ("Job Readiness Training", "Workshops on resumes, interviews and workplace skills."),
        ("Employment Placement", "Job developers match job seekers with local employers."),
        ("Vocational Training", "Short certificate courses in trades, health care and logistics."),
    ),
    "educational-attainment": (
        ("GED Preparation", "Free classes and tutoring to prepare for the high school exam."),
        ("Adult Literacy Tutoring", "Volunteer tutors help adults improve reading and writing."),
        ("ESL Classes", "English as a second language classes at beginner to advanced levels."),
    ),
    "veteran-status": (
        ("Veteran Benefits Navigation", "Accredited representatives file VA claims and appeals."),
        (
            "Veteran Housing Support",
            "Housing search and rent help for veterans and their families.",
        ),
    ),
    "stress": (
        ("Counseling Services", "Short-term individual and family counseling with licensed staff."),
        ("Peer Support Groups", "Weekly groups led by peers with lived experience."),
        ("Crisis Counseling", "Same-day support for people in emotional crisis."),
    ),
    "social-connection": (
        ("Senior Companion Program", "Volunteers visit and call isolated older adults each week."),
        ("Community Meals and Activities", "Shared meals, classes and outings at the center."),
    ),
    "personal-health-literacy": (
        ("Health Education Workshops", "Classes on managing chronic conditions and medications."),
        ("Diabetes Self-Management Classes", "A six-week class on diet, exercise and blood sugar."),
    ),
    "health-insurance-coverage-status": (
        ("Medi-Cal Enrollment Assistance", "Certified enrollers help apply for Medi-Cal."),
        (
            "Health Insurance Navigation",
            "Help choosing and enrolling in a Covered California plan.",
        ),
    ),
    "medical-cost-burden": (
        ("Prescription Assistance", "Help getting free or low-cost prescription medicines."),
        ("Medical Bill Advocacy", "Advocates negotiate medical bills and apply for charity care."),
    ),
    "digital-literacy": (
        ("Computer Skills Classes", "Beginner classes on email, the internet and online safety."),
        ("Digital Literacy Coaching", "One-on-one help using phones, telehealth and online forms."),
    ),
    "digital-access": (
        ("Public Computer Lab", "Free computers, printing and Wi-Fi for anyone who needs them."),
        ("Low-Cost Internet Enrollment", "Help signing up for discounted home internet service."),
        ("Device Lending", "Laptops and hotspots to borrow for school or a job search."),
    ),
    "incarceration-status": (
        ("Reentry Services", "Case management, ID replacement and job help after release."),
        ("Record Clearance Clinic", "Free help expunging eligible convictions."),
    ),
    "language-access": (
        (
            "Interpretation Services",
            "Trained interpreters for appointments, in person or by phone.",
        ),
        ("Translation Assistance", "Translation of letters, forms and school notices."),
    ),
    "sdoh-category-unspecified": (
        ("Case Management", "A case manager builds a plan and connects clients to resources."),
        ("Information and Referral", "Staff find the right local program for any need."),
    ),
}

# How often each category leads a service (food and housing dominate real directories).
CATEGORY_WEIGHTS: dict[str, int] = {
    "food-insecurity": 14,
    "housing-instability": 10,
    "homelessness": 7,
    "inadequate-housing": 3,
    "transportation-insecurity": 5,
    "utility-insecurity": 5,
    "financial-insecurity": 8,
    "material-hardship": 5,
    "intimate-partner-violence": 3,
    "elder-abuse": 1,
    "employment-status": 6,
    "educational-attainment": 4,
    "veteran-status": 2,
    "stress": 6,
    "social-connection": 4,
    "personal-health-literacy": 3,
    "health-insurance-coverage-status": 5,
    "medical-cost-burden": 3,
    "digital-literacy": 2,
    "digital-access": 2,
    "incarceration-status": 2,
    "language-access": 2,
    "sdoh-category-unspecified": 2,
}

# Categories a service of one category often also addresses.
RELATED: dict[str, tuple[str, ...]] = {
    "food-insecurity": ("financial-insecurity", "material-hardship", "social-connection"),
    "housing-instability": ("financial-insecurity", "homelessness", "utility-insecurity"),
    "homelessness": ("housing-instability", "food-insecurity", "stress"),
    "inadequate-housing": ("utility-insecurity", "housing-instability"),
    "transportation-insecurity": ("employment-status", "medical-cost-burden"),
    "utility-insecurity": ("financial-insecurity", "inadequate-housing"),
    "financial-insecurity": ("employment-status", "food-insecurity", "utility-insecurity"),
    "material-hardship": ("food-insecurity", "financial-insecurity"),
    "intimate-partner-violence": ("homelessness", "stress"),
    "elder-abuse": ("social-connection", "stress"),
    "employment-status": ("educational-attainment", "financial-insecurity", "digital-literacy"),
    "educational-attainment": ("employment-status", "language-access", "digital-literacy"),
    "veteran-status": ("housing-instability", "employment-status", "stress"),
    "stress": ("social-connection", "personal-health-literacy"),
    "social-connection": ("stress", "food-insecurity"),
    "personal-health-literacy": ("health-insurance-coverage-status", "language-access"),
    "health-insurance-coverage-status": ("medical-cost-burden", "personal-health-literacy"),
    "medical-cost-burden": ("health-insurance-coverage-status", "financial-insecurity"),
    "digital-literacy": ("digital-access", "educational-attainment"),
    "digital-access": ("digital-literacy", "educational-attainment"),
    "incarceration-status": ("employment-status", "housing-instability"),
    "language-access": ("educational-attainment", "personal-health-literacy"),
    "sdoh-category-unspecified": ("financial-insecurity", "food-insecurity"),
}

# Service-type taxonomy (the kind an aggregator publishes): group -> its categories.
SERVICE_TYPE_GROUPS: dict[str, tuple[str, ...]] = {
    "Basic Needs": ("food-insecurity", "material-hardship", "utility-insecurity"),
    "Housing": ("housing-instability", "homelessness", "inadequate-housing"),
    "Transportation": ("transportation-insecurity",),
    "Income and Work": ("financial-insecurity", "employment-status"),
    "Education and Digital Inclusion": (
        "educational-attainment",
        "digital-literacy",
        "digital-access",
    ),
    "Health": (
        "stress",
        "personal-health-literacy",
        "health-insurance-coverage-status",
        "medical-cost-burden",
    ),
    "Safety": ("intimate-partner-violence", "elder-abuse"),
    "Legal and Reentry": ("incarceration-status", "veteran-status"),
    "Community": ("social-connection", "language-access", "sdoh-category-unspecified"),
}

# Kinds of agency, with the categories most of their services address (empty: anything).
AGENCY_NOUNS: dict[str, tuple[str, ...]] = {
    "Community Services": (),
    "Family Resource Center": ("food-insecurity", "material-hardship", "financial-insecurity"),
    "Community Food Bank": ("food-insecurity", "material-hardship"),
    "Rescue Mission": ("homelessness", "food-insecurity", "incarceration-status"),
    "Community Action Partnership": (
        "utility-insecurity",
        "inadequate-housing",
        "financial-insecurity",
    ),
    "Housing Coalition": ("housing-instability", "homelessness", "inadequate-housing"),
    "Community Health Center": (
        "health-insurance-coverage-status",
        "medical-cost-burden",
        "personal-health-literacy",
        "stress",
    ),
    "Senior Center": ("social-connection", "elder-abuse", "transportation-insecurity"),
    "Legal Aid Society": ("housing-instability", "incarceration-status", "elder-abuse"),
    "Youth and Family Services": ("educational-attainment", "stress", "employment-status"),
    "Workforce Alliance": ("employment-status", "educational-attainment", "digital-literacy"),
    "Neighborhood House": (),
    "Interfaith Council": ("food-insecurity", "homelessness", "social-connection"),
    "Women's Center": ("intimate-partner-violence", "homelessness", "stress"),
    "Veterans Alliance": ("veteran-status", "housing-instability", "employment-status"),
    "Hope Center": (),
    "Community Clinic": ("health-insurance-coverage-status", "medical-cost-burden"),
    "Mutual Aid Network": ("food-insecurity", "material-hardship", "transportation-insecurity"),
    "Digital Equity Project": ("digital-access", "digital-literacy"),
    "Council on Aging": ("social-connection", "elder-abuse", "transportation-insecurity"),
    "Immigrant Welcome Center": ("language-access", "educational-attainment"),
}
AGENCY_PREFIXES = ("", "", "", "Greater ", "North ", "South ", "East ", "West ", "Friends of ")
STREETS = (
    "Main",
    "Oak",
    "Pine",
    "Maple",
    "Cedar",
    "Elm",
    "Walnut",
    "Washington",
    "Lincoln",
    "Jefferson",
    "Mission",
    "Broadway",
    "Market",
    "Church",
    "Park",
    "Lake",
    "Hill",
    "Sunset",
    "Valley",
    "Franklin",
    "Grant",
    "Alameda",
    "Central",
    "Santa Clara",
    "San Pablo",
    "Orange",
    "Olive",
    "Sycamore",
    "Redwood",
    "First",
    "Second",
    "Third",
    "Fourth",
    "Fifth",
    "Harbor",
    "Highland",
)
STREET_SUFFIXES = ("St", "Ave", "Blvd", "Rd", "Dr", "Way", "Ln", "Ct")
ADDRESS_2 = ("Suite 100", "Suite 200", "Suite 210", "Unit B", "2nd Floor", "Room 12")
AUDIENCES: tuple[tuple[str, int | None, int | None], ...] = (
    ("", None, None),
    ("", None, None),
    ("", None, None),
    ("for Seniors", 60, None),
    ("for Youth", 12, 24),
    ("for Families", None, None),
    ("for Veterans", 18, None),
    ("for Adults", 18, None),
)
VERBS = ("offers", "provides", "runs", "operates")
CLOSINGS = (
    "Walk-ins are welcome; appointments are recommended.",
    "Staff speak several languages and interpreters are available.",
    "Services are confidential and no immigration status questions are asked.",
    "Call ahead to check availability before visiting.",
    "Clients are connected to other programs as needed.",
    "Bring any documents you have; staff help with the rest.",
)
ELIGIBILITY = (
    "Open to all residents of {county}.",
    "Households at or below 200% of the Federal Poverty Level.",
    "Residents of the service area; no income limit.",
    "Low-income individuals and families living in {county}.",
    "Anyone in need; priority to families with children.",
)
APPLICATION = (
    "Call to schedule an intake appointment.",
    "Walk in during open hours; bring a photo ID if you have one.",
    "Apply online or by phone; a case worker follows up within two business days.",
    "Referral from a clinic, school or case manager.",
)
WAIT_TIMES = ("Same day", "1-3 days", "About one week", "1-2 weeks", "Waitlist; call for status")
DOCUMENTS = (
    "Photo ID",
    "Proof of address",
    "Proof of income",
    "Social Security card",
    "Lease or rental agreement",
    "Recent utility bill",
    "Birth certificates for children",
    "Medi-Cal card",
    "Eviction notice or pay-or-quit notice",
    "DD-214 (veterans)",
)
LANGUAGES = (
    ("es", "Spanish", 40),
    ("zh", "Chinese", 8),
    ("vi", "Vietnamese", 7),
    ("tl", "Tagalog", 6),
    ("ko", "Korean", 4),
    ("hy", "Armenian", 3),
    ("fa", "Persian", 3),
    ("ru", "Russian", 3),
    ("pa", "Punjabi", 3),
    ("ar", "Arabic", 3),
    ("hmn", "Hmong", 3),
    ("km", "Khmer", 2),
    ("ja", "Japanese", 2),
)
ACCESSIBILITY = (
    "Wheelchair-accessible entrance and restrooms.",
    "Accessible parking next to the entrance.",
    "Elevator to all floors; assistive listening devices on request.",
)
TRANSPORTATION = (
    "Two blocks from the nearest bus stop.",
    "Free parking on site.",
    "On the local bus line; bike racks at the entrance.",
    "Street parking only.",
)
# Weekly schedules: (byday, opens_at, closes_at, note).
WEEKDAY_HOURS = (
    ("MO,TU,WE,TH,FR", "09:00", "17:00", ""),
    ("MO,TU,WE,TH,FR", "08:30", "16:30", ""),
    ("MO,TU,WE,TH", "10:00", "18:00", ""),
    ("MO,WE,FR", "09:00", "12:00", "Walk-in hours"),
    ("TU,TH", "13:00", "19:00", "Afternoon appointments"),
    ("TU,TH", "17:30", "20:30", "Evening hours"),
)
WEEKEND_HOURS = (
    ("SA", "10:00", "14:00", "Saturday hours"),
    ("SA,SU", "09:00", "13:00", ""),
    ("SU", "12:00", "16:00", ""),
)
OVERNIGHT_HOURS = (
    ("MO,TU,WE,TH,FR,SA,SU", "19:00", "07:00", "Overnight; check-in until 22:00"),
    ("FR,SA", "21:00", "05:00", "Overnight on weekends"),
    ("MO,TU,WE,TH,FR", "18:00", "06:00", "Overnight"),
)
ALL_DAY = ("MO,TU,WE,TH,FR,SA,SU", "00:00", "23:59", "24 hours a day")
OVERNIGHT_CATEGORIES = frozenset({"homelessness", "intimate-partner-violence"})

SERVICE_TYPE_TAXONOMY_ID = str(uuid.uuid5(NAMESPACE, "bench:taxonomy:service-types"))
SERVICE_TYPE_TAXONOMY = "Community service types"
# California's bounding box: coordinates are kept inside it.
LAT_RANGE = (32.6, 41.9)
LNG_RANGE = (-124.2, -114.2)


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


def _lower(name: str) -> str:
    """Lower-case ordinary words, keep names such as CalFresh, WIC or Medi-Cal."""
    return " ".join(w.lower() if w[1:].islower() or len(w) == 1 else w for w in name.split())


def service_type_term_id(name: str) -> str:
    return str(uuid.uuid5(NAMESPACE, f"bench:service-type:{_slug(name)}"))


def service_type_group_id(group: str) -> str:
    return str(uuid.uuid5(NAMESPACE, f"bench:service-type-group:{_slug(group)}"))


@dataclass(frozen=True)
class Zip:
    code: str
    city: str
    county: str
    lat: float
    lng: float
    area_code: str


def load_zips(state: str = "CA") -> list[Zip]:
    """The state's active, standard (street-delivery) ZIP codes with a centroid."""
    found = [
        Zip(
            code=z["zip_code"],
            city=z["city"],
            county=z["county"],
            lat=float(z["lat"]),
            lng=float(z["long"]),
            area_code=(z.get("area_codes") or ["707"])[0],
        )
        for z in zipcodes.filter_by(state=state)
        if z["active"] and z["zip_code_type"] == "STANDARD" and z["lat"] and z["long"]
    ]
    found.sort(key=lambda z: z.code)
    return found


class _Tables:
    """One csv.writer per table; rows go straight to disk."""

    def __init__(self, folder: Path, stack: contextlib.ExitStack) -> None:
        self.writers: dict[str, Any] = {}
        self.columns: dict[str, tuple[str, ...]] = {}
        self.counts: dict[str, int] = {}
        for table, columns in COLUMNS.items():
            handle = stack.enter_context(
                (folder / f"{table}.csv").open("w", newline="", encoding="utf-8")
            )
            writer = csv.writer(handle)
            names = tuple(name for name, _ in columns)
            writer.writerow(names)
            self.writers[table] = writer
            self.columns[table] = names
            self.counts[table] = 0

    def add(self, table: str, **row: Any) -> None:
        unknown = set(row) - set(self.columns[table])
        if unknown:
            raise KeyError(f"{table}: unknown columns {sorted(unknown)}")
        self.writers[table].writerow(
            ["" if row.get(name) is None else row[name] for name in self.columns[table]]
        )
        self.counts[table] += 1


class _Generator:
    def __init__(
        self,
        tables: _Tables,
        *,
        seed: int,
        zips: Sequence[Zip],
        rng: random.Random,
        two_location_share: float = 0.5,
        both_locations_share: float = 0.3,
    ) -> None:
        self.t = tables
        self.seed = seed
        self.two_location_share = two_location_share
        self.both_locations_share = both_locations_share
        self.rng = rng
        self.zips = zips
        self.by_county: dict[str, list[Zip]] = defaultdict(list)
        for z in zips:
            self.by_county[z.county].append(z)
        self.agency_names: set[str] = set()
        self.agency_nouns = list(AGENCY_NOUNS)
        self.categories = [code for code, _ in SDOH_CATEGORIES]
        self.category_weights = [CATEGORY_WEIGHTS[code] for code in self.categories]
        self.language_weights = [weight for _, _, weight in LANGUAGES]

    def id(self, *parts: object) -> str:
        return str(uuid.uuid5(NAMESPACE, ":".join(["bench", str(self.seed), *map(str, parts)])))

    # --- taxonomies -------------------------------------------------------------------------

    def taxonomies(self) -> None:
        taxonomies, terms = handoff_taxonomies()
        for row in taxonomies:
            self.t.add("taxonomies", **row)
        for row in terms:
            self.t.add("taxonomy_terms", **row, language="en")
        self.t.add(
            "taxonomies",
            id=SERVICE_TYPE_TAXONOMY_ID,
            name=SERVICE_TYPE_TAXONOMY,
            description="Kinds of community services, grouped by need",
            version="2025",
        )
        for group, categories in SERVICE_TYPE_GROUPS.items():
            group_id = service_type_group_id(group)
            self.t.add(
                "taxonomy_terms",
                id=group_id,
                code=_slug(group)[:64],
                name=group,
                description=group,
                taxonomy=SERVICE_TYPE_TAXONOMY,
                taxonomy_id=SERVICE_TYPE_TAXONOMY_ID,
                language="en",
            )
            for category in categories:
                for name, detail in SERVICES_BY_CATEGORY[category]:
                    self.t.add(
                        "taxonomy_terms",
                        id=service_type_term_id(name),
                        code=_slug(name)[:64],
                        name=name,
                        description=detail,
                        parent_id=group_id,
                        taxonomy=SERVICE_TYPE_TAXONOMY,
                        taxonomy_id=SERVICE_TYPE_TAXONOMY_ID,
                        language="en",
                    )

    # --- agencies ---------------------------------------------------------------------------

    def _near(self, z: Zip, spread: float = 0.012) -> tuple[str, str]:
        lat = min(max(z.lat + self.rng.gauss(0, spread), LAT_RANGE[0]), LAT_RANGE[1])
        lng = min(max(z.lng + self.rng.gauss(0, spread), LNG_RANGE[0]), LNG_RANGE[1])
        return f"{lat:.6f}", f"{lng:.6f}"

    def _phone(self, z: Zip) -> str:
        return f"({z.area_code}) 555-01{self.rng.randrange(100):02d}"

    def _street(self) -> str:
        number = self.rng.randint(10, 9899)
        return f"{number} {self.rng.choice(STREETS)} {self.rng.choice(STREET_SUFFIXES)}"

    def _agency_name(self, z: Zip, noun: str) -> str:
        rng = self.rng
        place = z.county.removesuffix(" County") if rng.random() < 0.3 else z.city
        name = f"{rng.choice(AGENCY_PREFIXES)}{place} {noun}"
        candidate, n = name, 2
        while candidate in self.agency_names:
            candidate = f"{name} ({z.code})" if n == 2 else f"{name} ({z.code}-{n})"
            n += 1
        self.agency_names.add(candidate)
        return candidate

    def agency(self, a: int, services: int) -> None:
        rng = self.rng
        home = rng.choice(self.zips)
        noun = rng.choice(self.agency_nouns)
        name = self._agency_name(home, noun)
        org_id = self.id("agency", a)
        domain = f"{_slug(name)[:40].strip('-')}.example.org"
        government = rng.random() < 0.1
        self.t.add(
            "organizations",
            id=org_id,
            name=name,
            alternate_name=(
                "".join(w[0] for w in name.split() if w[0].isupper()) if rng.random() < 0.3 else ""
            ),
            description=(
                f"{name} serves {home.county} from {home.city}. "
                + rng.choice(
                    (
                        "Founded by neighbors, it has grown into a trusted local nonprofit.",
                        "It works with clinics, schools and other agencies across the county.",
                        "Its staff and volunteers help thousands of residents each year.",
                    )
                )
            ),
            email=f"info@{domain}",
            website=f"https://{domain}",
            tax_status="Government" if government else "501(c)(3)",
            tax_id=f"{rng.randint(10, 99)}-{rng.randint(1_000_000, 9_999_999)}",
            year_incorporated=rng.randint(1905, 2022),
            legal_status="Government agency" if government else "Nonprofit corporation",
        )
        self.t.add(
            "phones",
            id=self.id("agency", a, "phone"),
            organization_id=org_id,
            number=self._phone(home),
            type="voice",
            description="Main line",
        )
        places = [home]
        if rng.random() < self.two_location_share:
            county = self.by_county[home.county]
            places.append(rng.choice(county) if len(county) > 1 else rng.choice(self.zips))
        locations: list[tuple[str, Zip]] = []
        for n, z in enumerate(places):
            location_id = self.id("agency", a, "location", n)
            locations.append((location_id, z))
            lat, lng = self._near(z)
            self.t.add(
                "locations",
                id=location_id,
                organization_id=org_id,
                location_type="physical",
                name="Main Office" if n == 0 else f"{z.city} Office",
                description="" if rng.random() < 0.6 else f"Serving {z.city} and nearby towns.",
                transportation=rng.choice(TRANSPORTATION) if rng.random() < 0.5 else "",
                latitude=lat,
                longitude=lng,
            )
            self.t.add(
                "addresses",
                id=self.id("agency", a, "location", n, "address"),
                location_id=location_id,
                address_1=self._street(),
                address_2=rng.choice(ADDRESS_2) if rng.random() < 0.25 else "",
                city=z.city,
                region=z.county,
                state_province="CA",
                postal_code=z.code,
                country="US",
                address_type="physical",
            )
            if rng.random() < 0.4:
                self.t.add(
                    "accessibility",
                    id=self.id("agency", a, "location", n, "access"),
                    location_id=location_id,
                    description=rng.choice(ACCESSIBILITY),
                )
            if n > 0 or rng.random() < 0.3:
                self.t.add(
                    "phones",
                    id=self.id("agency", a, "location", n, "phone"),
                    location_id=location_id,
                    number=self._phone(z),
                    type="voice" if rng.random() < 0.8 else "fax",
                )
        for s in range(services):
            self.service(a, s, org_id, name, domain, locations, AGENCY_NOUNS[noun])

    # --- services ---------------------------------------------------------------------------

    def service(
        self,
        a: int,
        s: int,
        org_id: str,
        agency: str,
        domain: str,
        locations: list[tuple[str, Zip]],
        focus: tuple[str, ...],
    ) -> None:
        rng = self.rng
        key = ("agency", a, "service", s)
        service_id = self.id(*key)
        home = locations[0][1]
        if focus and rng.random() < 0.75:
            primary = rng.choice(focus)
        else:
            primary = rng.choices(self.categories, self.category_weights)[0]
        base, detail = rng.choice(SERVICES_BY_CATEGORY[primary])
        audience, min_age, max_age = rng.choice(AUDIENCES)
        name = f"{base} {audience}".strip()
        closing = f" {rng.choice(CLOSINGS)}" if rng.random() < 0.6 else ""
        what = " ".join(filter(None, (_lower(base), audience.lower())))
        description = (
            f"{agency} {rng.choice(VERBS)} {what} in {home.city} and nearby communities. "
            f"{detail}{closing}"
        )
        fee = rng.choices(("free", "sliding-scale", "fee"), (60, 25, 15))[0]
        amount = rng.choice((10, 15, 20, 25, 35, 50))
        fees_description = {
            "free": "Free of charge.",
            "sliding-scale": "Sliding scale based on household income; no one is turned away.",
            "fee": f"${amount} per visit; payment plans available.",
        }[fee]
        status = rng.choices(("active", "temporarily closed", "inactive"), (96, 3, 1))[0]
        self.t.add(
            "services",
            id=service_id,
            organization_id=org_id,
            name=name,
            description=description,
            url=f"https://{domain}/services/{_slug(base)}" if rng.random() < 0.5 else "",
            email=f"{_slug(base).split('-')[0]}@{domain}" if rng.random() < 0.3 else "",
            status=status,
            interpretation_services=(
                "Phone interpretation in more than 200 languages." if rng.random() < 0.3 else ""
            ),
            application_process=rng.choice(APPLICATION),
            fees_description=fees_description,
            wait_time=rng.choice(WAIT_TIMES),
            eligibility_description=rng.choice(ELIGIBILITY).format(county=home.county),
            minimum_age=min_age,
            maximum_age=max_age,
            alert="Hours may change on holidays." if rng.random() < 0.02 else "",
        )
        if fee != "free":
            self.t.add(
                "cost_options",
                id=self.id(*key, "cost"),
                service_id=service_id,
                option="Sliding scale" if fee == "sliding-scale" else "Standard fee",
                currency="USD",
                amount=f"{amount}.00",
                amount_description=fees_description,
            )
        if rng.random() < 0.2:
            self.t.add(
                "phones",
                id=self.id(*key, "phone"),
                service_id=service_id,
                number=self._phone(home),
                extension=str(rng.randint(100, 499)) if rng.random() < 0.5 else "",
                type="voice",
                description="Intake line",
            )

        # Where: at one of the agency's locations, or at both when it has two.
        both = len(locations) > 1 and rng.random() < self.both_locations_share
        here = locations if both else [rng.choice(locations)]
        sal_ids = []
        for location_id, _ in here:
            sal_id = self.id(*key, "at", location_id)
            sal_ids.append(sal_id)
            self.t.add(
                "service_at_location",
                id=sal_id,
                service_id=service_id,
                location_id=location_id,
            )
        self._hours(key, service_id, primary, base, sal_ids)

        # Attributes: SDOH categories, fee type, referral method, service type.
        extra = rng.randint(0, 2)
        categories = [primary]
        for code in rng.sample(RELATED[primary], min(extra, len(RELATED[primary]))):
            categories.append(code)
        links = [("sdohcc", code) for code in categories]
        links.append(("fee", fee))
        links.append(("referral", rng.choices(("electronic", "contact-directly"), (60, 40))[0]))
        for taxonomy, code in links:
            self.t.add(
                "attributes",
                id=self.id(*key, "attr", taxonomy, code),
                link_id=service_id,
                link_type="",
                link_entity="service",
                taxonomy_term_id=str(well_known_term_id(taxonomy, code)),
            )
        if rng.random() < 0.7:
            self.t.add(
                "attributes",
                id=self.id(*key, "attr", "type"),
                link_id=service_id,
                link_entity="service",
                taxonomy_term_id=service_type_term_id(base),
            )

        # Languages: English, and up to two more.
        self.t.add(
            "languages",
            id=self.id(*key, "lang", "en"),
            service_id=service_id,
            name="English",
            code="en",
        )
        others: list[tuple[str, str, int]] = []
        for _ in range(rng.choices((0, 1, 2), (35, 45, 20))[0]):
            choice = rng.choices(LANGUAGES, self.language_weights)[0]
            if choice not in others:
                others.append(choice)
        for code, language, _ in others:
            self.t.add(
                "languages",
                id=self.id(*key, "lang", code),
                service_id=service_id,
                name=language,
                code=code,
            )

        for n, document in enumerate(rng.sample(DOCUMENTS, rng.randint(0, 3))):
            self.t.add(
                "required_documents",
                id=self.id(*key, "doc", n),
                service_id=service_id,
                document=document,
            )

        county = self.by_county[home.county]
        nearby = [home, *rng.sample(county, min(len(county), rng.randint(0, 4)))]
        seen: set[str] = set()
        for z in nearby:
            if z.code in seen:
                continue
            seen.add(z.code)
            self.t.add(
                "service_areas",
                id=self.id(*key, "area", z.code),
                service_id=service_id,
                name=z.code,
                description=f"{z.city}, {z.county}",
                extent_type="postal_code",
            )

    def _hours(
        self,
        key: tuple[object, ...],
        service_id: str,
        category: str,
        base: str,
        sal_ids: list[str],
    ) -> None:
        rng = self.rng
        if "Hotline" in base or "Crisis" in base:
            chosen = [ALL_DAY]
        elif category in OVERNIGHT_CATEGORIES and rng.random() < 0.6:
            chosen = [rng.choice(OVERNIGHT_HOURS)]
        else:
            chosen = [rng.choice(WEEKDAY_HOURS)]
        for _ in range(rng.choices((0, 1, 2), (50, 35, 15))[0]):
            pool = rng.choices((WEEKDAY_HOURS, WEEKEND_HOURS, OVERNIGHT_HOURS), (45, 45, 10))[0]
            option = rng.choice(pool)
            if option not in chosen:
                chosen.append(option)
        for n, (byday, opens, closes, note) in enumerate(chosen):
            # Mostly hours at one location; some services give hours for all their locations.
            at_location = rng.random() < 0.8
            self.t.add(
                "schedules",
                id=self.id(*key, "hours", n),
                service_id="" if at_location else service_id,
                service_at_location_id=rng.choice(sal_ids) if at_location else "",
                freq="WEEKLY",
                interval=1,
                byday=byday,
                opens_at=opens,
                closes_at=closes,
                description=note,
            )


def _descriptor(seed: int, services: int) -> dict[str, Any]:
    return {
        "profile": "tabular-data-package",
        "name": f"handoff-bench-{services}-seed{seed}",
        "title": f"Synthetic HSDS 3.0 directory ({services} services, seed {seed})",
        "description": (
            "Generated by bench/hsds_package.py for benchmarking the Handoff HSDS importer. "
            "Names, addresses and phone numbers are fictional; ZIP codes are real."
        ),
        "keywords": ["HSDS", "Open Referral", "HSDS 3.0"],
        "licenses": [{"name": "CC0-1.0"}],
        "resources": [
            {
                "name": table,
                "path": f"{table}.csv",
                "profile": "tabular-data-resource",
                "format": "csv",
                "mediatype": "text/csv",
                "encoding": "utf-8",
                "schema": {
                    "fields": [
                        {"name": name, "type": kind, **({"format": "uuid"} if name == "id" else {})}
                        for name, kind in columns
                    ],
                    "primaryKey": "id",
                },
            }
            for table, columns in COLUMNS.items()
        ],
    }


def write_package(
    folder: Path,
    *,
    services: int = 20_000,
    services_per_agency: int = 5,
    seed: int = 1,
    two_location_share: float = 0.5,
    both_locations_share: float = 0.3,
) -> dict[str, int]:
    """Write the package into ``folder`` (created if missing); return rows written per table.

    ``services // services_per_agency`` agencies get ``services_per_agency`` services each; the
    last one also takes the remainder, so exactly ``services`` services are written.
    ``two_location_share`` of the agencies have a second location, and ``both_locations_share``
    of their services are offered at both: service_at_location rows per service average
    ``1 + two_location_share * both_locations_share`` (1.15 by default).
    """
    if services < 1 or services_per_agency < 1:
        raise ValueError("services and services_per_agency must be at least 1")
    if not (0 <= two_location_share <= 1 and 0 <= both_locations_share <= 1):
        raise ValueError("two_location_share and both_locations_share must be from 0 to 1")
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    rng = random.Random(seed)  # noqa: S311 - synthetic data, reproducible on purpose
    zips = load_zips("CA")
    agencies = max(1, services // services_per_agency)
    with contextlib.ExitStack() as stack:
        tables = _Tables(folder, stack)
        generator = _Generator(
            tables,
            seed=seed,
            zips=zips,
            rng=rng,
            two_location_share=two_location_share,
            both_locations_share=both_locations_share,
        )
        generator.taxonomies()
        for a in range(agencies):
            count = services_per_agency
            if a == agencies - 1:
                count = services - services_per_agency * (agencies - 1)
            generator.agency(a, count)
        counts = dict(tables.counts)
    (folder / "datapackage.json").write_text(
        json.dumps(_descriptor(seed, services), indent=2) + "\n", encoding="utf-8"
    )
    return counts


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("out_dir", type=Path, help="folder to write the package into")
    parser.add_argument("--services", type=int, default=20_000)
    parser.add_argument("--services-per-agency", type=int, default=5)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--two-location-share", type=float, default=0.5, help="agencies with a second location"
    )
    parser.add_argument(
        "--both-locations-share",
        type=float,
        default=0.3,
        help="services of such agencies offered at both locations",
    )
    args = parser.parse_args(argv)
    counts = write_package(
        args.out_dir,
        services=args.services,
        services_per_agency=args.services_per_agency,
        seed=args.seed,
        two_location_share=args.two_location_share,
        both_locations_share=args.both_locations_share,
    )
    width = max(len(table) for table in counts)
    for table, count in counts.items():
        sys.stdout.write(f"{table:<{width}}  {count:>9}\n")
    sys.stdout.write(f"written to {args.out_dir}\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
