"""The HSDS 3.0 facts in directory.hsds.schema, and the two validators in
directory.hsds.validation."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from directory.hsds.schema import REQUIRED_JSON, TABLE_OBJECT, TABLES, table_columns
from directory.hsds.validation import (
    NOTE_PREFIX,
    errors_only,
    is_note,
    validate_service_object,
    validate_table_rows,
)

EXPECTED_TABLES = (
    "organizations",
    "services",
    "locations",
    "service_at_location",
    "addresses",
    "phones",
    "schedules",
    "languages",
    "taxonomies",
    "taxonomy_terms",
    "attributes",
    "service_areas",
    "cost_options",
    "required_documents",
    "accessibility",
)

ORG_ID = "0fdfb57f-c147-4cfb-864c-44788a335d8c"
SERVICE_ID = "ac148810-d857-441c-9679-408f346de14b"
LOCATION_ID = "3a19ff88-4620-4d17-9830-ac1d859eb5d5"
SAL_ID = "e94c9f38-1e8f-4564-91d4-d53501ab1765"
TERM_ID = "3f7b145d-84af-42d7-8fae-eaca714b02b2"
TAXONOMY_ID = "5c4d79d7-cc55-470e-9f1f-8cad074e4892"
ROW_ID = "11111111-2222-4333-8444-555555555555"

# The smallest valid row of each table: its tabular-required fields and nothing else.
MINIMAL_ROWS: dict[str, dict[str, str]] = {
    "organizations": {"id": ORG_ID, "name": "Food Bank", "description": "Feeds people."},
    "services": {
        "id": SERVICE_ID,
        "organization_id": ORG_ID,
        "name": "Pantry",
        "status": "active",
    },
    "locations": {"id": LOCATION_ID, "location_type": "physical"},
    "service_at_location": {"id": SAL_ID, "service_id": SERVICE_ID, "location_id": LOCATION_ID},
    "addresses": {
        "id": ROW_ID,
        "address_1": "1 Main St",
        "city": "Springfield",
        "state_province": "IL",
        "postal_code": "62701",
        "country": "US",
        "address_type": "physical",
    },
    "phones": {"id": ROW_ID, "number": "+1 217 555 0100"},
    "schedules": {"id": ROW_ID},
    "languages": {"id": ROW_ID},
    "taxonomies": {"id": TAXONOMY_ID, "name": "SDOHCC", "description": "SDOH categories"},
    "taxonomy_terms": {"id": TERM_ID, "name": "Food insecurity", "description": "Food"},
    "attributes": {
        "id": ROW_ID,
        "link_id": SERVICE_ID,
        "taxonomy_term_id": TERM_ID,
        "link_entity": "service",
    },
    "service_areas": {"id": ROW_ID},
    "cost_options": {"id": ROW_ID, "service_id": SERVICE_ID},
    "required_documents": {"id": ROW_ID},
    "accessibility": {"id": ROW_ID},
}


def full_row(table: str) -> dict[str, str]:
    """A CSV row with every column present, the minimal values filled and the rest empty."""
    row = dict.fromkeys(table_columns(table), "")
    row.update(MINIMAL_ROWS[table])
    return row


# --- the facts --------------------------------------------------------------------------------


def test_every_table_is_described_and_mapped() -> None:
    assert set(TABLES) == set(EXPECTED_TABLES)
    assert set(TABLE_OBJECT) == set(EXPECTED_TABLES)
    assert set(REQUIRED_JSON) == set(TABLE_OBJECT.values())
    assert TABLE_OBJECT["services"] == "service"
    assert TABLE_OBJECT["taxonomies"] == "taxonomy"
    assert TABLE_OBJECT["accessibility"] == "accessibility"


@pytest.mark.parametrize("table", EXPECTED_TABLES)
def test_every_table_starts_with_a_required_uuid_id(table: str) -> None:
    first = TABLES[table][0]
    assert table_columns(table)[0] == "id"
    assert (first.type, first.required, first.format) == ("string", True, "uuid")
    assert "id" in REQUIRED_JSON[TABLE_OBJECT[table]]


@pytest.mark.parametrize("table", EXPECTED_TABLES)
def test_tables_hold_scalar_fields_only_without_duplicates(table: str) -> None:
    names = table_columns(table)
    assert len(names) == len(set(names))
    assert {spec.type for spec in TABLES[table]} <= {"string", "number", "integer", "boolean"}
    for spec in TABLES[table]:
        assert not spec.enum or spec.type == "string"


@pytest.mark.parametrize("table", EXPECTED_TABLES)
def test_json_required_fields_are_tabular_required_columns(table: str) -> None:
    required = {spec.name for spec in TABLES[table] if spec.required}
    assert set(REQUIRED_JSON[TABLE_OBJECT[table]]) <= required
    assert required == set(MINIMAL_ROWS[table])


def test_known_required_lists() -> None:
    assert REQUIRED_JSON["organization"] == ("id", "name", "description")
    assert REQUIRED_JSON["service"] == ("id", "name", "status")
    assert REQUIRED_JSON["location"] == ("id", "location_type")
    assert REQUIRED_JSON["phone"] == ("id", "number")
    assert REQUIRED_JSON["address"] == (
        "id",
        "address_1",
        "city",
        "state_province",
        "postal_code",
        "country",
        "address_type",
    )
    assert REQUIRED_JSON["taxonomy_term"] == ("id", "name", "description")


def test_tabular_only_requirements_and_foreign_keys() -> None:
    def spec(table: str, name: str) -> Any:
        return next(s for s in TABLES[table] if s.name == name)

    assert spec("services", "organization_id").required
    assert "organization_id" not in REQUIRED_JSON["service"]
    assert spec("service_at_location", "service_id").required
    assert spec("service_at_location", "location_id").required
    for name in ("link_id", "taxonomy_term_id", "link_entity"):
        assert spec("attributes", name).required
    assert spec("cost_options", "service_id").required
    for name in (
        "location_id",
        "service_id",
        "organization_id",
        "contact_id",
        "service_at_location_id",
    ):
        assert name in table_columns("phones")
        assert not spec("phones", name).required
        assert spec("phones", name).format == "uuid"
    for name in ("service_id", "location_id", "service_at_location_id"):
        assert name in table_columns("schedules")


def test_known_enums_and_formats() -> None:
    def spec(table: str, name: str) -> Any:
        return next(s for s in TABLES[table] if s.name == name)

    assert spec("services", "status").enum == (
        "active",
        "inactive",
        "defunct",
        "temporarily closed",
    )
    assert spec("locations", "location_type").enum == ("physical", "postal", "virtual")
    assert spec("schedules", "freq").enum == ("WEEKLY", "MONTHLY")
    assert spec("schedules", "opens_at").format == "time"
    assert spec("services", "assured_date").format == "date"
    assert spec("services", "last_modified").format == "date-time"
    assert spec("services", "email").format == "email"
    assert spec("organizations", "website").format == "uri"
    assert spec("services", "minimum_age").type == "number"


def test_unknown_table_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="contacts"):
        table_columns("contacts")
    with pytest.raises(ValueError, match="service"):
        validate_table_rows("service", [])


# --- CSV rows ---------------------------------------------------------------------------------


@pytest.mark.parametrize("table", EXPECTED_TABLES)
def test_minimal_row_passes(table: str) -> None:
    assert validate_table_rows(table, [MINIMAL_ROWS[table]]) == []
    assert validate_table_rows(table, [full_row(table)]) == []


@pytest.mark.parametrize("table", EXPECTED_TABLES)
def test_each_missing_required_field_is_named(table: str) -> None:
    for field in MINIMAL_ROWS[table]:
        blank = dict(MINIMAL_ROWS[table], **{field: ""})
        absent = {k: v for k, v in MINIMAL_ROWS[table].items() if k != field}
        ok = MINIMAL_ROWS[table]
        expected = [f"{table} row 2 {field}: required field is empty"]
        assert validate_table_rows(table, [ok, blank]) == expected
        assert validate_table_rows(table, [ok, absent]) == expected


def test_whitespace_only_counts_as_empty() -> None:
    row = dict(MINIMAL_ROWS["services"], name="   ")
    assert validate_table_rows("services", [row]) == [
        "services row 1 name: required field is empty"
    ]


def test_bad_enum_fails_case_sensitively() -> None:
    messages = validate_table_rows("services", [dict(MINIMAL_ROWS["services"], status="open")])
    assert len(messages) == 1
    assert messages[0].startswith("services row 1 status: 'open' is not one of active, ")
    assert validate_table_rows("services", [dict(MINIMAL_ROWS["services"], status="Active")])
    assert (
        validate_table_rows(
            "services", [dict(MINIMAL_ROWS["services"], status="temporarily closed")]
        )
        == []
    )
    assert validate_table_rows("schedules", [dict(MINIMAL_ROWS["schedules"], freq="weekly")])


def test_bad_uuid_fails() -> None:
    messages = validate_table_rows("services", [dict(MINIMAL_ROWS["services"], id="svc-1")])
    assert messages == ["services row 1 id: not a UUID: 'svc-1'"]
    messages = validate_table_rows(
        "phones", [dict(MINIMAL_ROWS["phones"], location_id="1234", service_id=SERVICE_ID.upper())]
    )
    assert messages == ["phones row 1 location_id: not a UUID: '1234'"]


def test_unknown_columns_are_notes_not_errors() -> None:
    rows = [
        dict(MINIMAL_ROWS["services"], x_handoff_fee="free", x_referral="electronic"),
        dict(MINIMAL_ROWS["services"], x_handoff_fee="sliding-scale"),
    ]
    messages = validate_table_rows("services", rows)
    assert messages == [
        f"{NOTE_PREFIX}services column x_handoff_fee: not an HSDS 3.0 column; kept as an extension",
        f"{NOTE_PREFIX}services column x_referral: not an HSDS 3.0 column; kept as an extension",
    ]
    assert all(is_note(message) for message in messages)
    assert errors_only(messages) == []


def test_notes_follow_errors() -> None:
    row = dict(MINIMAL_ROWS["services"], status="open", extra="1")
    messages = validate_table_rows("services", [row])
    assert [is_note(m) for m in messages] == [False, True]
    assert errors_only(messages) == messages[:1]


@pytest.mark.parametrize(
    ("table", "field", "good", "bad"),
    [
        ("services", "email", "help@example.org", "help at example.org"),
        ("services", "url", "https://example.org/pantry", "example.org/pantry"),
        ("services", "assured_date", "2024-02-29", "2023-02-29"),
        ("services", "assured_date", "2024-01-05", "01/05/2024"),
        ("services", "last_modified", "2023-03-15T10:30:45.123Z", "2023-03-15"),
        ("services", "minimum_age", "12", "twelve"),
        ("services", "maximum_age", "17.5", "nan"),
        ("locations", "latitude", "-39.78", "39,78"),
        ("schedules", "opens_at", "09:00", "9am"),
        ("schedules", "closes_at", "17:30:00-05:00", "25:00"),
        ("schedules", "valid_from", "2025-01-01", "2025-13-01"),
        ("schedules", "wkst", "MO", "MON"),
        ("organizations", "year_incorporated", "1999", "1999a"),
    ],
)
def test_formats_and_types(table: str, field: str, good: str, bad: str) -> None:
    assert validate_table_rows(table, [dict(MINIMAL_ROWS[table], **{field: good})]) == []
    messages = validate_table_rows(table, [dict(MINIMAL_ROWS[table], **{field: bad})])
    assert len(messages) == 1
    assert messages[0].startswith(f"{table} row 1 {field}: ")
    assert repr(bad) in messages[0]


def test_optional_empty_values_are_not_checked() -> None:
    row = dict(full_row("schedules"), freq="", opens_at="", timezone=" ")
    assert validate_table_rows("schedules", [row]) == []


def test_row_numbers_count_data_rows_from_one() -> None:
    rows = [MINIMAL_ROWS["phones"], MINIMAL_ROWS["phones"], dict(MINIMAL_ROWS["phones"], number="")]
    assert validate_table_rows("phones", rows) == ["phones row 3 number: required field is empty"]


# --- nested JSON ------------------------------------------------------------------------------


def nested_service() -> dict[str, Any]:
    """A minimal valid compiled service with every kind of nested object the brief names."""
    return {
        "id": SERVICE_ID,
        "name": "Pantry",
        "status": "active",
        "minimum_age": 12,
        "maximum_age": None,
        "email": None,
        "organization": {"id": ORG_ID, "name": "Food Bank", "description": "Feeds people."},
        "service_at_locations": [
            {
                "id": SAL_ID,
                "location": {
                    "id": LOCATION_ID,
                    "location_type": "physical",
                    "latitude": 39.78,
                    "longitude": -89.65,
                    "addresses": [
                        {
                            "id": ROW_ID,
                            "address_1": "1 Main St",
                            "city": "Springfield",
                            "state_province": "IL",
                            "postal_code": "62701",
                            "country": "US",
                            "address_type": "physical",
                        }
                    ],
                    "phones": [{"id": "22222222-2222-4333-8444-555555555555", "number": "555"}],
                },
            }
        ],
        "schedules": [
            {
                "id": "33333333-2222-4333-8444-555555555555",
                "freq": "WEEKLY",
                "byday": "MO,WE",
                "opens_at": "09:00",
                "closes_at": "17:00",
            }
        ],
        "languages": [{"id": "44444444-2222-4333-8444-555555555555", "name": "Spanish"}],
        "attributes": [
            {
                "id": "55555555-2222-4333-8444-555555555555",
                "link_id": SERVICE_ID,
                "taxonomy_term_id": TERM_ID,
                "link_entity": "service",
                "taxonomy_term": {
                    "id": TERM_ID,
                    "name": "Food insecurity",
                    "description": "Food",
                    "taxonomy_detail": {
                        "id": TAXONOMY_ID,
                        "name": "SDOHCC",
                        "description": "SDOH categories",
                    },
                },
            }
        ],
        "contacts": [],
        "metadata": [],
        "x_extension": {"anything": True},
    }


def test_valid_nested_service_passes() -> None:
    assert validate_service_object(nested_service()) == []


def test_wrong_types_enums_and_missing_fields_have_paths() -> None:
    service = nested_service()
    service["minimum_age"] = "12"
    service["status"] = "open"
    del service["organization"]["name"]
    messages = validate_service_object(service)
    assert "service.minimum_age: expected a number, got string '12'" in messages
    assert any(m.startswith("service.status: 'open' is not one of active") for m in messages)
    assert "service.organization.name: required field is missing" in messages
    assert len(messages) == 3


def test_deep_paths() -> None:
    service = nested_service()
    location = service["service_at_locations"][0]["location"]
    location["phones"][0]["number"] = 5550100
    location["addresses"][0]["country"] = None
    location["location_type"] = "Physical"
    service["attributes"][0]["taxonomy_term"]["taxonomy_detail"]["id"] = "sdohcc"
    service["schedules"][0]["opens_at"] = "9am"
    service["languages"].append("Spanish")
    messages = validate_service_object(service)
    sal = "service.service_at_locations[0]"
    assert f"{sal}.location.phones[0].number: expected a string, got integer 5550100" in messages
    assert f"{sal}.location.addresses[0].country: required field is missing" in messages
    assert any(m.startswith(f"{sal}.location.location_type: 'Physical'") for m in messages)
    assert (
        "service.attributes[0].taxonomy_term.taxonomy_detail.id: not a UUID: 'sdohcc'" in messages
    )
    assert any(m.startswith("service.schedules[0].opens_at: not a time") for m in messages)
    assert "service.languages[1]: expected an object, got string" in messages
    assert len(messages) == 6


def test_json_container_and_scalar_types() -> None:
    service = nested_service()
    service["phones"] = {"id": ROW_ID, "number": "555"}
    service["organization"] = [service["organization"]]
    service["maximum_age"] = True
    service["contacts"] = "none"
    messages = validate_service_object(service)
    assert messages == [
        "service.maximum_age: expected a number, got boolean True",
        "service.phones: expected an array, got object",
        "service.organization: expected an object, got array",
        "service.contacts: expected an array, got string",
    ]


def test_required_json_fields_cannot_be_null_or_blank() -> None:
    service = nested_service()
    service["name"] = None
    service["id"] = " "
    assert validate_service_object(service) == [
        "service.id: required field is empty",
        "service.name: required field is missing",
    ]


def test_foreign_keys_are_not_required_in_nested_json() -> None:
    service = nested_service()
    assert "organization_id" not in service
    assert "service_id" not in service["service_at_locations"][0]
    assert validate_service_object(service) == []


def test_not_an_object() -> None:
    not_a_service: Any = ["service"]
    assert validate_service_object(not_a_service) == ["service: expected an object, got array"]


def test_validators_do_not_mutate_input() -> None:
    service = nested_service()
    before = copy.deepcopy(service)
    validate_service_object(service)
    assert service == before
