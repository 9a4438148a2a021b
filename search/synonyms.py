"""What people type, and what listings say: the one synonym table of every search backend.

Each line is one set of equivalent phrases, in English and Spanish, plain words beside the
words listings and the SDOH need names use ("comida" ↔ "food", which every listing in the Food
need carries in its names). The database backend expands a query's phrases into these
alternatives (``search.text.terms``); Elasticsearch gets the same lines as the rules of its
search-time ``synonym_graph`` filter (``search.text.synonym_rules``). A phrase belongs to one
line only (tests/search/test_text.py checks it); accents and case do not matter.
"""

from __future__ import annotations

SYNONYMS: tuple[tuple[str, ...], ...] = (
    (
        "food bank",
        "food pantry",
        "food shelf",
        "food closet",
        "banco de comida",
        "banco de alimentos",
        "despensa de comida",
        "despensa",
    ),
    ("groceries", "food", "comida", "alimentos", "mandado", "viveres"),
    ("meals", "hot meals", "soup kitchen", "free lunch", "comidas", "comedor", "comida caliente"),
    (
        "snap",
        "calfresh",
        "food stamps",
        "ebt",
        "cupones de alimentos",
        "estampillas de comida",
        "estampillas",
    ),
    ("wic", "women infants and children"),
    (
        "rent help",
        "rental assistance",
        "rent assistance",
        "help with rent",
        "help paying rent",
        "ayuda con la renta",
        "ayuda con el alquiler",
    ),
    ("housing", "vivienda", "casa", "apartment", "apartamento", "place to live"),
    ("eviction", "eviction prevention", "tenant rights", "desalojo", "desahucio"),
    ("homeless", "homelessness", "unhoused", "houseless", "sin hogar", "sin casa", "indigente"),
    ("shelter", "emergency shelter", "emergency housing", "albergue", "refugio"),
    (
        "utility help",
        "utility assistance",
        "energy assistance",
        "liheap",
        "bill assistance",
        "help with bills",
        "ayuda con la luz",
        "ayuda con los biles",
        "servicios publicos",
    ),
    (
        "ride",
        "rides",
        "transportation",
        "transport",
        "transporte",
        "raite",
        "ride to doctor",
        "ride to appointment",
        "medical transportation",
        "transporte al medico",
        "transporte medico",
    ),
    ("bus pass", "transit pass", "bus ticket", "pase de autobus", "boleto de autobus"),
    (
        "domestic violence",
        "intimate partner violence",
        "ipv",
        "family violence",
        "violencia domestica",
        "violencia familiar",
    ),
    ("legal aid", "legal help", "legal services", "ayuda legal", "abogado", "asesoria legal"),
    ("job", "jobs", "employment", "work", "trabajo", "empleo"),
    ("childcare", "child care", "daycare", "day care", "guarderia", "cuidado de ninos"),
    ("clothes", "clothing", "clothing closet", "ropa"),
    ("medical bills", "financial assistance", "medical debt", "facturas medicas", "biles medicos"),
    (
        "counseling",
        "counselling",
        "therapy",
        "mental health",
        "consejeria",
        "terapia",
        "salud mental",
    ),
    ("detox", "substance use", "addiction", "recovery", "adiccion", "drogas", "desintoxicacion"),
    ("doctor", "clinic", "health care", "medical care", "medico", "clinica", "atencion medica"),
)

# The SDOH needs (``cms.categories`` codes) a line means: a query with one of its phrases also
# finds the services listed under those needs, whatever words their listings use. Keyed by the
# line's first phrase.
NEEDS: dict[str, tuple[str, ...]] = {
    "food bank": ("food-insecurity",),
    "groceries": ("food-insecurity",),
    "meals": ("food-insecurity",),
    "snap": ("food-insecurity",),
    "wic": ("food-insecurity",),
    "rent help": ("housing-instability",),
    "housing": ("housing-instability", "inadequate-housing"),
    "eviction": ("housing-instability",),
    "homeless": ("homelessness",),
    "shelter": ("homelessness",),
    "utility help": ("utility-insecurity",),
    "ride": ("transportation-insecurity",),
    "bus pass": ("transportation-insecurity",),
    "domestic violence": ("intimate-partner-violence",),
    "job": ("employment-status",),
    "medical bills": ("medical-cost-burden",),
}
