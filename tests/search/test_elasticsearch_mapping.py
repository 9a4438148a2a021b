"""The Elasticsearch index without a server: its analysis settings, its mapping, and what is
indexed for a document (and read back from a hit's ``_source``).
"""

from __future__ import annotations

import json

from search.backends.elasticsearch_mapping import build_index, document_from_source, document_source
from search.text import synonym_rules
from tests.search.elasticsearch_support import make_document

# --- the index ---------------------------------------------------------------------------------


def test_the_index_has_folding_stemming_and_search_time_synonyms():
    settings = build_index("handoff-services-20261123").to_dict()["settings"]

    assert settings["number_of_shards"] == 1
    assert settings["max_result_window"] == 25_000  # MAX_PAGE * MAX_PAGE_SIZE can be reached
    assert settings["analysis"] == {
        "analyzer": {
            "handoff_text": {
                "type": "custom",
                "tokenizer": "standard",
                "filter": ["lowercase", "asciifolding", "handoff_english_stemmer"],
            },
            "handoff_text_search": {
                "type": "custom",
                "tokenizer": "standard",
                "filter": [
                    "lowercase",
                    "asciifolding",
                    "handoff_synonyms",
                    "handoff_english_stemmer",
                ],
            },
            "handoff_suggest": {
                "type": "custom",
                "tokenizer": "standard",
                "filter": ["lowercase", "asciifolding"],
            },
        },
        "filter": {
            "handoff_english_stemmer": {"type": "stemmer", "language": "english"},
            "handoff_synonyms": {"type": "synonym_graph", "synonyms": synonym_rules()},
        },
    }
    rules = synonym_rules()
    assert any(rule.startswith("food bank, food pantry, food shelf") for rule in rules)
    # Spanish and plain phrases are rules of the same search-time filter, folded as it reads them.
    assert any("comida" in rule.split(", ") and "food" in rule.split(", ") for rule in rules)
    assert any("vivienda" in rule.split(", ") and "housing" in rule.split(", ") for rule in rules)
    assert any("ride to doctor" in rule.split(", ") for rule in rules)
    assert any("transporte al medico" in rule.split(", ") for rule in rules)  # "médico", folded


def test_the_mapping_pins_what_queries_read_and_what_hits_show():
    mappings = build_index("handoff-services-20261123").to_dict()["mappings"]
    fields = mappings["properties"]
    text = {
        "type": "text",
        "analyzer": "handoff_text",
        "search_analyzer": "handoff_text_search",
    }
    shown = {"type": "keyword", "index": False, "doc_values": False}

    assert mappings["dynamic"] is False
    assert fields["network_id"] == {"type": "keyword"}
    assert fields["key"] == {"type": "keyword"}
    for name in ("service_name", "agency_name", "description", "text_all"):
        assert fields[name] == text, name
    for name in ("names", "body"):
        assert fields[name] == {**text, "copy_to": ["text_all", "spelling"]}, name
    # Unstemmed words for the "Did you mean" phrase suggester.
    assert fields["spelling"] == {"type": "text", "analyzer": "handoff_suggest"}
    for name in (
        "categories",
        "service_types",
        "languages",
        "fee_type",
        "capacity",
        "referral_method",
        "status",
    ):
        assert fields[name] == {"type": "keyword"}, name
    for name in ("location_name", "address", "city", "postal_code", "url", "alert", "phone"):
        assert fields[name] == shown, name
    assert fields["point"] == {"type": "geo_point"}
    assert fields["latitude"] == fields["longitude"] == {"type": "float", "index": False}
    assert fields["minimum_age"] == fields["maximum_age"] == {"type": "integer"}
    assert fields["verified_at"] == {"type": "date"}
    assert fields["service_id"] == {"type": "integer"}
    assert fields["agency_id"] == fields["location_id"] == {"type": "integer", "index": False}
    assert fields["suggest"] == {
        "type": "completion",
        "analyzer": "handoff_suggest",
        "contexts": [{"name": "network", "type": "category"}],
    }
    assert fields["openings"] == {
        "type": "nested",
        "properties": {
            "start_weekday": {"type": "integer"},
            "minutes": {"type": "integer_range"},
        },
    }
    assert fields["closures"] == {"type": "date_range", "format": "yyyy-MM-dd"}
    assert fields["hours"] == {"type": "object", "enabled": False}
    # Every field a hit needs is mapped (dynamic mapping is off).
    assert set(document_source(make_document())) <= set(fields)


# --- documents ---------------------------------------------------------------------------------


def test_a_document_is_indexed_with_its_point_openings_closures_and_suggestions():
    source = document_source(make_document())

    assert source["network_id"] == 7
    assert source["point"] == {"lat": 40.79, "lon": -124.15}
    assert source["verified_at"] == "2026-10-01T12:30:00+00:00"
    assert source["hours"] == [
        {"weekday": 0, "opens": "09:00", "closes": "17:00"},
        {"weekday": 6, "opens": "22:00", "closes": "02:00"},
    ]
    # Minutes of the week; the Sunday night opening is split at the end of the week and both
    # halves keep the weekday it started on.
    assert source["openings"] == [
        {"start_weekday": 0, "minutes": {"gte": 540, "lt": 1020}},
        {"start_weekday": 6, "minutes": {"gte": 0, "lt": 120}},
        {"start_weekday": 6, "minutes": {"gte": 9960, "lt": 10080}},
    ]
    assert source["closures"] == [{"gte": "2026-12-24", "lte": "2026-12-26"}]
    assert source["suggest"] == [
        {"input": ["Eureka Food Bank"], "weight": 2, "contexts": {"network": ["7"]}},
        {
            "input": ["Food", "Shelter"],
            "weight": 3,
            "contexts": {"network": ["7"]},
        },
    ]


def test_a_document_without_a_place_or_categories_has_no_point_and_one_suggestion():
    source = document_source(
        make_document(latitude=None, longitude=None, categories=[], verified_at=None, hours=[])
    )

    assert source["point"] is None
    assert source["verified_at"] is None
    assert source["openings"] == []
    assert source["suggest"] == [
        {"input": ["Eureka Food Bank"], "weight": 2, "contexts": {"network": ["7"]}}
    ]


def test_a_document_comes_back_from_its_source_unchanged():
    original = make_document()
    back = document_from_source(json.loads(json.dumps(document_source(original))))

    for name in (
        "key",
        "network_id",
        "service_id",
        "agency_id",
        "location_id",
        "service_name",
        "agency_name",
        "description",
        "address",
        "url",
        "phone",
        "latitude",
        "longitude",
        "fee_type",
        "capacity",
        "referral_method",
        "minimum_age",
        "maximum_age",
        "verified_at",
        "categories",
        "service_types",
        "languages",
        "hours",
        "closures",
    ):
        assert getattr(back, name) == getattr(original, name), name
    assert back.pk is None
