"""The word lists and fixed values the synthetic HSDS package is made from (bench.hsds_generator):
service names by SDOH category, kinds of agency, streets, audiences, hours, languages and the
bounds of California."""

from __future__ import annotations

import uuid

from directory.hsds.records import NAMESPACE

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
