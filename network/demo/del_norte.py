"""Demo data for the Del Norte County, California community resource referral network."""

NETWORK = {
    "slug": "del-norte",
    "name": "Del Norte Community Resource Network",
    "time_zone": "America/Los_Angeles",
}

CLINICS = [
    {
        "slug": "battery-point-family-clinic",
        "name": "Battery Point Family Clinic",
        "kind": "clinic",
        "description": (
            "Community clinic in Crescent City offering primary care, pediatrics, and behavioral "
            "health to Del Norte County residents on a sliding fee scale. A care coordinator "
            "screens patients for social needs and makes referrals to local agencies."
        ),
        "phone": "(707) 555-0170",
        "email": "referrals@batterypointclinic.example.org",
        "website": "https://batterypointclinic.example.org",
        "address_1": "550 E Washington Blvd",
        "city": "Crescent City",
        "state": "CA",
        "postal_code": "95531",
        "latitude": 41.7722,
        "longitude": -124.1935,
    },
]

AGENCIES = [
    {
        "slug": "crescent-harbor-food-share",
        "name": "Crescent Harbor Food Share",
        "kind": "agency",
        "description": (
            "Food bank and pantry serving all of Del Norte County from its Crescent City "
            "warehouse, with monthly distributions in Smith River, Gasquet, and Klamath. Staff "
            "also help families sign up for CalFresh."
        ),
        "phone": "(707) 555-0171",
        "email": "pantry@harborfoodshare.example.org",
        "website": "https://harborfoodshare.example.org",
        "address_1": "1185 Northcrest Dr",
        "city": "Crescent City",
        "state": "CA",
        "postal_code": "95531",
        "services": [
            {
                "slug": "harbor-food-pantry",
                "name": "Harbor Food Pantry",
                "description": (
                    "A client-choice pantry where households pick groceries, fresh produce, dairy, "
                    "and protein once a week. Monthly pop-up distributions bring food to Smith "
                    "River, Gasquet, and Klamath for people who cannot travel to town."
                ),
                "categories": ["food-insecurity"],
                "languages": ["en", "es"],
                "fee": "free",
                "fee_description": "",
                "eligibility": "Del Norte County households in need; income is self-declared.",
                "minimum_age": None,
                "maximum_age": None,
                "application_process": (
                    "Send a referral or come during pantry hours; the first visit takes 5 minutes "
                    "to register."
                ),
                "required_documents": ["Any form of ID"],
                "wait_time": "Same day",
                "service_area_zips": ["95531", "95538", "95543", "95548", "95567"],
                "referral_method": "electronic",
                "hours": [
                    ("mon", "10:00", "15:00"),
                    ("wed", "10:00", "18:00"),
                    ("fri", "10:00", "15:00"),
                ],
            },
            {
                "slug": "del-norte-calfresh-signup",
                "name": "CalFresh Sign-Up Help",
                "description": (
                    "Staff help households apply for CalFresh, upload documents, and prepare for "
                    "the county interview. Help is available in person, by phone, or at the pantry "
                    "during distributions."
                ),
                "categories": ["food-insecurity", "financial-insecurity"],
                "languages": ["en", "es"],
                "fee": "free",
                "fee_description": "",
                "eligibility": "Anyone in Del Norte County who may qualify for CalFresh.",
                "minimum_age": None,
                "maximum_age": None,
                "application_process": (
                    "Send a referral; staff call within 2 business days to schedule."
                ),
                "required_documents": ["Photo ID", "Proof of income", "Rent receipt or lease"],
                "wait_time": "Within 1 week",
                "service_area_zips": ["95531", "95538", "95543", "95548", "95567"],
                "referral_method": "electronic",
                "hours": [
                    ("mon", "09:00", "16:00"),
                    ("tue", "09:00", "16:00"),
                    ("wed", "09:00", "16:00"),
                    ("thu", "09:00", "16:00"),
                    ("fri", "09:00", "16:00"),
                ],
            },
            {
                "slug": "seaside-senior-food-boxes",
                "name": "Senior Food Boxes",
                "description": (
                    "A monthly box of shelf-stable staples, plus fresh produce when available, for "
                    "older adults on a limited income. Volunteers deliver to homebound seniors in "
                    "Crescent City."
                ),
                "categories": ["food-insecurity"],
                "languages": ["en"],
                "fee": "free",
                "fee_description": "",
                "eligibility": "Adults 60 and older at or below 150% of the federal poverty level.",
                "minimum_age": 60,
                "maximum_age": None,
                "application_process": "Send a referral or enroll at the pantry.",
                "required_documents": ["Photo ID showing date of birth"],
                "wait_time": "2-3 weeks to start",
                "service_area_zips": ["95531", "95538", "95543", "95548", "95567"],
                "referral_method": "electronic",
                "hours": [
                    ("wed", "10:00", "14:00"),
                ],
            },
        ],
        "latitude": 41.7690,
        "longitude": -124.1970,
    },
    {
        "slug": "north-bluff-safe-haven",
        "name": "North Bluff Safe Haven",
        "kind": "agency",
        "description": (
            "Domestic violence and sexual assault services for Del Norte County, including a "
            "24-hour crisis line, confidential shelter, and legal advocacy. All services are free "
            "and confidential."
        ),
        "phone": "(707) 555-0172",
        "email": "advocates@northbluff.example.org",
        "website": "https://northbluff.example.org",
        "address_1": "285 K St",
        "city": "Crescent City",
        "state": "CA",
        "postal_code": "95531",
        "services": [
            {
                "slug": "del-norte-dv-crisis-line",
                "name": "24-Hour Domestic Violence Crisis Line",
                "description": (
                    "Advocates answer calls any time of day or night to provide support, safety "
                    "planning, and help reaching shelter. Callers can also get information about "
                    "restraining orders and what to expect from law enforcement."
                ),
                "categories": ["intimate-partner-violence", "stress"],
                "languages": ["en", "es"],
                "fee": "free",
                "fee_description": "",
                "eligibility": (
                    "Anyone affected by domestic violence, dating violence, or sexual assault."
                ),
                "minimum_age": None,
                "maximum_age": None,
                "application_process": "Call or text at any time.",
                "required_documents": [],
                "wait_time": "Immediate",
                "service_area_zips": ["95531", "95538", "95543", "95548", "95567"],
                "referral_method": "contact-directly",
                "hours": [
                    ("mon", "00:00", "23:59"),
                    ("tue", "00:00", "23:59"),
                    ("wed", "00:00", "23:59"),
                    ("thu", "00:00", "23:59"),
                    ("fri", "00:00", "23:59"),
                    ("sat", "00:00", "23:59"),
                    ("sun", "00:00", "23:59"),
                ],
            },
            {
                "slug": "north-bluff-confidential-shelter",
                "name": "Confidential Emergency Shelter",
                "description": (
                    "Safe, confidential shelter for survivors and their children for up to 45 "
                    "days, with meals, advocacy, and help planning next steps. Transportation to "
                    "the shelter can be arranged from anywhere in the county."
                ),
                "categories": ["intimate-partner-violence", "homelessness"],
                "languages": ["en", "es"],
                "fee": "free",
                "fee_description": "",
                "eligibility": "Survivors fleeing domestic violence and their children.",
                "minimum_age": None,
                "maximum_age": None,
                "application_process": (
                    "Send a referral or call the crisis line for a safety screening."
                ),
                "required_documents": [],
                "wait_time": "Same day when space is available",
                "service_area_zips": ["95531", "95538", "95543", "95548", "95567"],
                "referral_method": "electronic",
                "hours": [
                    ("mon", "00:00", "23:59"),
                    ("tue", "00:00", "23:59"),
                    ("wed", "00:00", "23:59"),
                    ("thu", "00:00", "23:59"),
                    ("fri", "00:00", "23:59"),
                    ("sat", "00:00", "23:59"),
                    ("sun", "00:00", "23:59"),
                ],
            },
            {
                "slug": "del-norte-legal-advocacy",
                "name": "Survivor Legal Advocacy",
                "description": (
                    "Advocates help survivors file restraining orders, prepare for custody "
                    "hearings, and apply for victim compensation, and go with them to court."
                ),
                "categories": ["intimate-partner-violence"],
                "languages": ["en", "es"],
                "fee": "free",
                "fee_description": "",
                "eligibility": (
                    "Survivors of domestic violence or sexual assault in Del Norte County."
                ),
                "minimum_age": None,
                "maximum_age": None,
                "application_process": "Send a referral or call to set a safe time to meet.",
                "required_documents": ["Any police reports or court papers, if safe to gather"],
                "wait_time": "1-3 days",
                "service_area_zips": ["95531", "95538", "95543", "95548", "95567"],
                "referral_method": "electronic",
                "hours": [
                    ("mon", "09:00", "17:00"),
                    ("tue", "09:00", "17:00"),
                    ("wed", "09:00", "17:00"),
                    ("thu", "09:00", "17:00"),
                    ("fri", "09:00", "17:00"),
                ],
            },
        ],
        "latitude": 41.7545,
        "longitude": -124.1985,
    },
    {
        "slug": "smith-river-valley-family-center",
        "name": "Smith River Valley Family Center",
        "kind": "agency",
        "description": (
            "Bilingual family resource center serving Smith River, Fort Dick, and the farming "
            "communities of the northern county. Helps families with benefits, utility bills, and "
            "basic needs."
        ),
        "phone": "(707) 555-0173",
        "email": "familias@smithriverfamily.example.org",
        "website": "https://smithriverfamily.example.org",
        "address_1": "120 1st St",
        "city": "Smith River",
        "state": "CA",
        "postal_code": "95567",
        "services": [
            {
                "slug": "smith-river-family-navigation",
                "name": "Family Benefits Navigation",
                "description": (
                    "Bilingual family advocates help parents apply for Medi-Cal, CalFresh, "
                    "CalWORKs, and child care assistance, and follow up with the county when "
                    "applications stall. Evening appointments are available for working parents."
                ),
                "categories": [
                    "financial-insecurity",
                    "health-insurance-coverage-status",
                    "food-insecurity",
                ],
                "languages": ["en", "es"],
                "fee": "free",
                "fee_description": "",
                "eligibility": "Families in Smith River, Fort Dick, and the northern county.",
                "minimum_age": None,
                "maximum_age": None,
                "application_process": "Send a referral or walk in.",
                "required_documents": ["Photo ID", "Proof of income", "Proof of address"],
                "wait_time": "Same week",
                "service_area_zips": ["95531", "95538", "95567"],
                "referral_method": "electronic",
                "hours": [
                    ("mon", "09:00", "17:00"),
                    ("tue", "09:00", "17:00"),
                    ("wed", "09:00", "17:00"),
                    ("thu", "09:00", "19:00"),
                ],
            },
            {
                "slug": "smith-river-utility-help",
                "name": "Utility Bill Assistance",
                "description": (
                    "One-time help paying electric or propane bills to prevent a shutoff, and help "
                    "applying for the state energy assistance program and utility discount rates."
                ),
                "categories": ["utility-insecurity", "financial-insecurity"],
                "languages": ["en", "es"],
                "fee": "free",
                "fee_description": "",
                "eligibility": "Low-income households in the northern county with a past-due bill.",
                "minimum_age": None,
                "maximum_age": None,
                "application_process": "Send a referral; bring the most recent bill.",
                "required_documents": ["Photo ID", "Most recent utility or propane bill"],
                "wait_time": "1-2 weeks",
                "service_area_zips": ["95531", "95538", "95567"],
                "referral_method": "electronic",
                "hours": [
                    ("mon", "09:00", "17:00"),
                    ("tue", "09:00", "17:00"),
                    ("wed", "09:00", "17:00"),
                    ("thu", "09:00", "19:00"),
                ],
            },
            {
                "slug": "smith-river-diaper-clothing-closet",
                "name": "Diaper and Clothing Closet",
                "description": (
                    "Free diapers, wipes, children's clothing, and winter coats for families with "
                    "young children. Families may visit once a month."
                ),
                "categories": ["material-hardship"],
                "languages": ["en", "es"],
                "fee": "free",
                "fee_description": "",
                "eligibility": "Families with children under 12.",
                "minimum_age": None,
                "maximum_age": 12,
                "application_process": "Walk in during closet hours.",
                "required_documents": [],
                "wait_time": "None",
                "service_area_zips": ["95531", "95538", "95567"],
                "referral_method": "contact-directly",
                "hours": [
                    ("sat", "10:00", "13:00"),
                ],
            },
        ],
        "latitude": 41.9285,
        "longitude": -124.1470,
    },
    {
        "slug": "gasquet-mountain-neighbors",
        "name": "Gasquet Mountain Neighbors",
        "kind": "agency",
        "description": (
            "Volunteer group in Gasquet helping residents along the Smith River canyon with rides "
            "to town and firewood for winter. Neighbors organize everything from the community "
            "hall."
        ),
        "phone": "(707) 555-0174",
        "email": "rides@gasquetneighbors.example.org",
        "website": "https://gasquetneighbors.example.org",
        "address_1": "150 Gasquet Flat Rd",
        "city": "Gasquet",
        "state": "CA",
        "postal_code": "95543",
        "services": [
            {
                "slug": "gasquet-volunteer-rides",
                "name": "Volunteer Rides to Crescent City",
                "description": (
                    "Volunteer drivers take Gasquet-area residents on the winding highway to "
                    "medical appointments, the pharmacy, and grocery stores in Crescent City. "
                    "Rides are free and should be requested at least three days ahead."
                ),
                "categories": ["transportation-insecurity"],
                "languages": ["en"],
                "fee": "free",
                "fee_description": "",
                "eligibility": "Gasquet and Hiouchi residents without reliable transportation.",
                "minimum_age": None,
                "maximum_age": None,
                "application_process": "Send a referral or call the ride coordinator.",
                "required_documents": [],
                "wait_time": "3 days' notice",
                "service_area_zips": ["95531", "95543"],
                "referral_method": "electronic",
                "hours": [
                    ("mon", "08:00", "16:00"),
                    ("tue", "08:00", "16:00"),
                    ("wed", "08:00", "16:00"),
                    ("thu", "08:00", "16:00"),
                    ("fri", "08:00", "16:00"),
                ],
            },
            {
                "slug": "gasquet-firewood-program",
                "name": "Winter Firewood Program",
                "description": (
                    "Delivers split firewood to seniors, people with disabilities, and low-income "
                    "families who heat with wood, from October through March."
                ),
                "categories": ["utility-insecurity"],
                "languages": ["en"],
                "fee": "free",
                "fee_description": "",
                "eligibility": "Gasquet-area households that heat mainly with wood.",
                "minimum_age": None,
                "maximum_age": None,
                "application_process": "Call the coordinator to get on the delivery list.",
                "required_documents": [],
                "wait_time": "1-3 weeks in season",
                "service_area_zips": ["95543"],
                "referral_method": "contact-directly",
                "hours": [
                    ("sat", "09:00", "13:00"),
                ],
            },
        ],
        "latitude": 41.8454,
        "longitude": -123.9695,
    },
    {
        "slug": "requa-road-resource-center",
        "name": "Requa Road Resource Center",
        "kind": "agency",
        "description": (
            "Community resource center in Klamath serving the southern end of Del Norte County, "
            "where the nearest town services are a long drive away. Offers coverage enrollment, "
            "internet access, and food distribution."
        ),
        "phone": "(707) 555-0175",
        "email": "frontdesk@requaroad.example.org",
        "website": "https://requaroad.example.org",
        "address_1": "320 Klamath Blvd",
        "city": "Klamath",
        "state": "CA",
        "postal_code": "95548",
        "services": [
            {
                "slug": "klamath-coverage-enrollment",
                "name": "Health Coverage Enrollment",
                "description": (
                    "An enrollment counselor helps residents apply for and renew Medi-Cal and "
                    "Covered California coverage, and helps with hospital financial assistance "
                    "applications."
                ),
                "categories": ["health-insurance-coverage-status", "medical-cost-burden"],
                "languages": ["en"],
                "fee": "free",
                "fee_description": "",
                "eligibility": "Residents of Klamath and the southern county.",
                "minimum_age": None,
                "maximum_age": None,
                "application_process": "Send a referral or call to book an appointment.",
                "required_documents": ["Photo ID", "Proof of income"],
                "wait_time": "Within 1 week",
                "service_area_zips": ["95531", "95548"],
                "referral_method": "electronic",
                "hours": [
                    ("tue", "09:00", "16:00"),
                    ("thu", "09:00", "16:00"),
                ],
            },
            {
                "slug": "klamath-internet-lab",
                "name": "Internet and Computer Lab",
                "description": (
                    "Free computers, internet, printing, and a private room for telehealth visits, "
                    "with a staff member available to help with online forms and patient portals."
                ),
                "categories": ["digital-access", "digital-literacy"],
                "languages": ["en"],
                "fee": "free",
                "fee_description": "",
                "eligibility": "Open to all.",
                "minimum_age": None,
                "maximum_age": None,
                "application_process": "Walk in during open hours.",
                "required_documents": [],
                "wait_time": "None",
                "service_area_zips": ["95548"],
                "referral_method": "contact-directly",
                "hours": [
                    ("mon", "10:00", "16:00"),
                    ("tue", "10:00", "16:00"),
                    ("wed", "10:00", "16:00"),
                    ("thu", "10:00", "16:00"),
                    ("fri", "10:00", "16:00"),
                ],
            },
            {
                "slug": "klamath-food-distribution",
                "name": "Klamath Food Distribution",
                "description": (
                    "Twice-monthly distribution of groceries and fresh produce, with home delivery "
                    "for elders and people with disabilities."
                ),
                "categories": ["food-insecurity"],
                "languages": ["en"],
                "fee": "free",
                "fee_description": "",
                "eligibility": "Residents of Klamath and the southern county.",
                "minimum_age": None,
                "maximum_age": None,
                "application_process": "Send a referral or come on distribution day.",
                "required_documents": [],
                "wait_time": "Twice monthly",
                "service_area_zips": ["95548"],
                "referral_method": "electronic",
                "hours": [
                    ("fri", "11:00", "15:00"),
                ],
            },
        ],
        "latitude": 41.5268,
        "longitude": -124.0385,
    },
    {
        "slug": "lake-earl-housing-work-center",
        "name": "Lake Earl Housing and Work Center",
        "kind": "agency",
        "description": (
            "Housing and employment agency in Fort Dick helping Del Norte residents keep their "
            "homes, weatherize them, and find stable work."
        ),
        "phone": "(707) 555-0176",
        "email": "intake@lakeearl.example.org",
        "website": "https://lakeearl.example.org",
        "address_1": "5200 Lake Earl Dr",
        "city": "Fort Dick",
        "state": "CA",
        "postal_code": "95538",
        "services": [
            {
                "slug": "del-norte-rental-assistance",
                "name": "Rental Assistance",
                "description": (
                    "One-time help with past-due rent or a move-in deposit for households at risk "
                    "of eviction or leaving homelessness. Payments go directly to the landlord, "
                    "and a case manager follows up for three months."
                ),
                "categories": ["housing-instability", "financial-insecurity"],
                "languages": ["en"],
                "fee": "free",
                "fee_description": "",
                "eligibility": "Del Norte County renters at or below 80% of area median income.",
                "minimum_age": None,
                "maximum_age": None,
                "application_process": "Send a referral or call for a phone screening.",
                "required_documents": [
                    "Photo ID",
                    "Lease or rental agreement",
                    "Rent notice or ledger",
                    "Proof of income",
                ],
                "wait_time": "1-3 weeks",
                "service_area_zips": ["95531", "95538", "95543", "95548", "95567"],
                "referral_method": "electronic",
                "hours": [
                    ("mon", "09:00", "16:30"),
                    ("tue", "09:00", "16:30"),
                    ("wed", "09:00", "16:30"),
                    ("thu", "09:00", "16:30"),
                    ("fri", "09:00", "16:30"),
                ],
            },
            {
                "slug": "del-norte-job-search-center",
                "name": "Job Search Center",
                "description": (
                    "Computers, job listings, resume help, and interview practice, plus referrals "
                    "to paid training in health care, fisheries, and the trades."
                ),
                "categories": ["employment-status", "digital-access"],
                "languages": ["en"],
                "fee": "free",
                "fee_description": "",
                "eligibility": (
                    "People 16 and older looking for work; youth 16-24 can join paid work programs."
                ),
                "minimum_age": 16,
                "maximum_age": None,
                "application_process": "Walk in, or send a referral to book time with a counselor.",
                "required_documents": [],
                "wait_time": "Same day",
                "service_area_zips": ["95531", "95538", "95543", "95548", "95567"],
                "referral_method": "electronic",
                "hours": [
                    ("mon", "09:00", "16:30"),
                    ("tue", "09:00", "16:30"),
                    ("wed", "09:00", "16:30"),
                    ("thu", "09:00", "16:30"),
                    ("fri", "09:00", "16:30"),
                ],
            },
            {
                "slug": "del-norte-weatherization",
                "name": "Home Weatherization",
                "description": (
                    "Free insulation, weather-stripping, window repair, and heater safety checks "
                    "to make homes warmer and lower energy bills in the wet coastal climate."
                ),
                "categories": ["utility-insecurity", "inadequate-housing"],
                "languages": ["en"],
                "fee": "free",
                "fee_description": "",
                "eligibility": (
                    "Income-eligible renters and homeowners; renters need landlord consent."
                ),
                "minimum_age": None,
                "maximum_age": None,
                "application_process": "Send a referral; an auditor schedules a home visit.",
                "required_documents": [
                    "Photo ID",
                    "Proof of income",
                    "Landlord consent for renters",
                ],
                "wait_time": "2-3 months",
                "service_area_zips": ["95531", "95538", "95543", "95548", "95567"],
                "referral_method": "electronic",
                "hours": [
                    ("mon", "08:00", "16:30"),
                    ("tue", "08:00", "16:30"),
                    ("wed", "08:00", "16:30"),
                    ("thu", "08:00", "16:30"),
                    ("fri", "08:00", "16:30"),
                ],
            },
        ],
        "latitude": 41.8668,
        "longitude": -124.1495,
    },
]
