"""Schemathesis against every JSON API's own OpenAPI schema (the list is ``tests/api/apis.py``):
generated requests, valid (positive) and invalid (negative), for every operation, as each actor
the API names, on the referral loop's data. Each answer must be no 5xx, a documented status with
a documented content type, a body that conforms to its schema, and invalid input refused with
a 4xx.

Requests go through Django's test client (inside the test's transaction, so the loop's data is
there and rolled back after) to the host the API is served on, with CSRF enforced as in a
browser. Bounded for ``make test``:
``HANDOFF_API_EXAMPLES`` examples per operation and mode (20 by default; ``make test-api`` runs
more).
"""

from __future__ import annotations

import os
from typing import Any
from urllib.parse import urlsplit

import hypothesis
import hypothesis.errors
import pytest
import requests
import schemathesis
from django.conf import settings
from django.test import Client as HttpClient
from hypothesis import strategies as st
from schemathesis.checks import CHECKS as REGISTERED_CHECKS
from schemathesis.checks import load_all_checks
from schemathesis.core.failures import FailureGroup
from schemathesis.core.transport import Response

from tests.api.apis import APIS, ApiUnderTest
from tests.conftest import act_as
from tests.referrals.factories import Loop, move
from tests.referrals.fhir.support import ehr_make

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("clock_before_sent_at")]

EXAMPLES = int(os.environ.get("HANDOFF_API_EXAMPLES", "20"))
CSRF_TOKEN = "schemathesis0csrf0token000000000"  # 32 characters: a CSRF secret
# The checks by their schemathesis names (its registry): the positive cases' answers may be any
# documented error (a made-up client is a 400), so "positive data acceptance" is not one.
ANSWER_CHECKS = [
    "not_a_server_error",
    "status_code_conformance",
    "content_type_conformance",
    "response_schema_conformance",
]
load_all_checks()
CHECKS = {
    schemathesis.GenerationMode.POSITIVE: REGISTERED_CHECKS.get_by_names(ANSWER_CHECKS),
    schemathesis.GenerationMode.NEGATIVE: REGISTERED_CHECKS.get_by_names(
        [*ANSWER_CHECKS, "negative_data_rejection"]
    ),
}


def loop_in_every_state(loop: Loop) -> None:
    """Referrals the clinic sent, open and closed, so reads and changes meet every status."""
    agency, staff = loop.food_agency, loop.agency_staff
    loop.send(key="open")
    accepted = loop.send(key="accepted")
    move(accepted, "accepted", staff, agency)
    declined = loop.send(key="declined")
    move(declined, "rejected", staff, agency, reason_code="no-capacity")
    done = loop.send(key="done")
    move(done, "accepted", staff, agency)
    move(done, "completed", staff, agency, outcome="service-provided")
    loop.send(service=loop.housing, key="housing")


def signed_in_nobody() -> HttpClient:
    http = HttpClient(enforce_csrf_checks=True)
    http.cookies["csrftoken"] = CSRF_TOKEN
    return http


def signed_in(loop: Loop, actor: str) -> HttpClient:
    http = HttpClient(enforce_csrf_checks=True)
    if actor.startswith("ehr-"):
        # A system with every scope, its bearer token sent with each request (django_call).
        organization = loop.clinic if actor == "ehr-clinic" else loop.food_agency
        ehr = ehr_make(organization, name=f"Schema {actor}").sign_in()
        http.bearer = ehr.token  # type: ignore[attr-defined]
        return http
    if actor == "clinic":
        act_as(http, loop.clinic_staff, loop.clinic)
    elif actor == "agency":
        act_as(http, loop.agency_staff, loop.food_agency)
    elif actor != "anonymous":
        raise ValueError(f"Unknown actor {actor!r}.")
    http.cookies["csrftoken"] = CSRF_TOKEN
    return http


def session_cookie_required(schema: dict[str, Any]) -> bool:
    """Whether the API signs in with Django's session cookie (a cookie security scheme)."""
    schemes = schema.get("components", {}).get("securitySchemes", {}).values()
    return any(
        scheme.get("in") == "cookie" and scheme.get("name") == settings.SESSION_COOKIE_NAME
        for scheme in schemes
    )


def django_call(http: HttpClient, case: schemathesis.Case, *, session: bool, host: str) -> Response:
    """Send the generated request through the test client to ``host``, as its actor
    (``session``: the API signs in with the session cookie; a case without that cookie,
    generated to test that it is required, goes without the actor's session); its answer as
    schemathesis reads it."""
    if session and settings.SESSION_COOKIE_NAME not in (case.cookies or {}):
        http = signed_in_nobody()
    prepared = requests.Request(**case.as_transport_kwargs(base_url="http://testserver")).prepare()
    url = urlsplit(prepared.url or "")
    headers = {
        name: value
        for name, value in prepared.headers.items()
        if name.lower() not in ("cookie", "content-type", "content-length")
    }
    headers["X-CSRFToken"] = CSRF_TOKEN
    headers["Host"] = host
    # A system's token (signed_in) where the case signs in: the generated ones are made up; a
    # case without the header (generated to test that it is required) goes without.
    bearer = getattr(http, "bearer", None)
    if bearer and "authorization" in {name.lower() for name in (case.headers or {})}:
        headers = {k: v for k, v in headers.items() if k.lower() != "authorization"}
        headers["Authorization"] = f"Bearer {bearer}"
    body = prepared.body or b""
    answer = http.generic(
        prepared.method or "GET",
        f"{url.path}?{url.query}" if url.query else url.path,
        data=body.encode() if isinstance(body, str) else body,
        content_type=prepared.headers.get("Content-Type", ""),
        headers=headers,
    )
    return Response(
        status_code=answer.status_code,
        headers={name.lower(): [value] for name, value in answer.items()},
        content=answer.content,
        request=prepared,
        elapsed=0.0,
        verify=True,
    )


def use_known(case: schemathesis.Case, name: str, value: Any) -> None:
    """Put a real object's value where the case has a parameter or body member ``name``."""
    if case.path_parameters and name in case.path_parameters:
        case.path_parameters[name] = value
    elif case.query and name in case.query:
        case.query[name] = value
    elif isinstance(case.body, dict) and name in case.body:
        case.body[name] = value


def known_for(operation: Any, known: dict[str, list[Any]]) -> dict[str, list[Any]]:
    """The known values that apply to ``operation``: those of a bare parameter name, and those
    scoped to a path its own ends with ("/services/{id} id"), which win."""
    mine = {name: values for name, values in known.items() if " " not in name}
    for scoped, values in known.items():
        path, _, name = scoped.rpartition(" ")
        if path and operation.path.endswith(path):
            mine[name] = values
    return mine


def failures_of(
    operation: Any,
    mode: schemathesis.GenerationMode,
    http: HttpClient,
    known: dict[str, Any],
    *,
    session: bool,
    host: str,
) -> list[str]:
    """Run one operation's generated cases; the failures, each with how to reproduce it."""
    known = known_for(operation, known)
    found: list[str] = []
    statuses: list[int] = []
    names = sorted(name for name, values in known.items() if values)
    choices = (
        st.lists(st.tuples(st.sampled_from(names), st.integers(min_value=0)), max_size=len(names))
        if names
        else st.just([])
    )

    @hypothesis.given(case=operation.as_strategy(generation_mode=mode), picks=choices)
    @hypothesis.settings(
        max_examples=EXAMPLES,
        deadline=None,
        database=None,
        derandomize=True,
        phases=[hypothesis.Phase.explicit, hypothesis.Phase.generate],
        suppress_health_check=list(hypothesis.HealthCheck),
    )
    def run(case: schemathesis.Case, picks: list[tuple[str, int]]) -> None:
        if mode is schemathesis.GenerationMode.POSITIVE:
            for name, index in picks:
                values = known[name]
                use_known(case, name, values[index % len(values)])
        response = django_call(http, case, session=session, host=host)
        statuses.append(response.status_code)
        try:
            case.validate_response(response, checks=CHECKS[mode])
        except FailureGroup as exc:  # every failure is reported, not just the first
            found.append(f"{operation.label} [{mode.value}]: {exc}"[:3000])

    try:
        run()
    except hypothesis.errors.Unsatisfiable:
        # Nothing about the request can be made wrong (no parameters, or only text in the path:
        # an API's root, an object by its id, where any text is an id to look up): no negative
        # case to send. There is always a valid one.
        if mode is not schemathesis.GenerationMode.NEGATIVE:
            raise
    # The actor's session worked: valid requests were answered, not all refused at the door.
    if mode is schemathesis.GenerationMode.POSITIVE and (session or getattr(http, "bearer", None)):
        assert any(code != 401 for code in statuses), f"{operation.label}: only 401s"
    return found


@pytest.mark.parametrize(
    ("api", "actor"),
    [pytest.param(api, actor, id=f"{api.name}-{actor}") for api in APIS for actor in api.actors],
)
def test_every_answer_conforms_to_the_schema(
    loop: Loop, api: ApiUnderTest, actor: str, settings: Any
) -> None:
    for name, value in api.settings.items():
        setattr(settings, name, value)
    loop_in_every_state(loop)
    http = signed_in(loop, actor)
    host = api.host(loop)
    fetched = http.get(api.schema_url, headers={"Host": host})
    assert fetched.status_code == 200, fetched.content[:300]
    raw = fetched.json()
    schema = schemathesis.openapi.from_dict(raw)
    session = session_cookie_required(raw)
    known = api.known_values(loop)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert operations, f"{api.name}: no operations in its schema"
    failures = [
        failure
        for operation in operations
        for mode in (schemathesis.GenerationMode.POSITIVE, schemathesis.GenerationMode.NEGATIVE)
        for failure in failures_of(operation, mode, http, known, session=session, host=host)
    ]
    assert not failures, "\n\n".join(failures[:10]) + f"\n\n({len(failures)} failures)"
