"""Structured logs: one JSON object a line, each naming the request (the id the response returns
in X-Request-ID) or the Celery task, and nothing a person typed: no query string, no form, no
request object, no database error's message."""

from __future__ import annotations

import http.client
import io
import json
import logging
from collections.abc import Iterator
from unittest import mock

import pytest
from django.db import IntegrityError
from django.test import Client as HttpClient

from cms.celery import app
from cms.log_filters import SecretPathsRedacted
from cms.logging_json import JsonFormatter
from cms.request_id import RequestIdFilter
from tests.processes import production_gunicorn

CLIENT_NAME = "Rosalind Quintero"
KEY = "json-logs-test-" + "Qm7Zr4Lp9Xw2Vn6Bt8Yc3Ks5Hd1Fg0Je_Ua" * 2


@pytest.fixture
def log_lines() -> Iterator[io.StringIO]:
    """What the console handler of LOG_FORMAT=json writes, for the duration of a test."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    handler.addFilter(SecretPathsRedacted())
    handler.addFilter(RequestIdFilter())
    root = logging.getLogger()
    root.addHandler(handler)
    try:
        yield stream
    finally:
        root.removeHandler(handler)


def _parsed(stream: io.StringIO) -> list[dict]:
    text = stream.getvalue()
    return [json.loads(line) for line in text.splitlines() if line.strip()]


@pytest.mark.django_db
def test_a_requests_log_lines_are_json_with_the_id_the_response_returns(client, log_lines):
    response = client.post(
        f"/no-such-page/?client={CLIENT_NAME}&dob=1961-04-02",
        {"client_name": CLIENT_NAME, "notes": "lives with her sister"},
    )
    assert response.status_code == 404
    request_id = response["X-Request-ID"]
    assert len(request_id) == 32
    lines = _parsed(log_lines)
    not_found = [line for line in lines if line["logger"] == "django.request"]
    assert not_found, lines
    for line in not_found:
        assert line["request_id"] == request_id
        assert line["message"] == "Not Found: /no-such-page/"  # the path only
        assert set(line) >= {"time", "level", "logger", "message", "request_id"}
        assert line["time"].endswith("Z")
    # The request id is random hex: it may hold "1961" by chance (it did once in CI).
    output = log_lines.getvalue().replace(request_id, "")
    assert "Rosalind" not in output
    assert "1961" not in output
    assert "sister" not in output


@pytest.mark.django_db
def test_the_proxys_request_id_is_kept_when_sane_and_replaced_when_not(client, log_lines):
    kept = client.get("/no-such-page/", HTTP_X_REQUEST_ID="edge-7f3a.42_b")
    assert kept["X-Request-ID"] == "edge-7f3a.42_b"
    for proposed in ("x" * 65, "id with spaces", 'a"}\n{"level": "CRITICAL'):
        replaced = client.get("/no-such-page/", HTTP_X_REQUEST_ID=proposed)
        assert replaced["X-Request-ID"] != proposed
        assert len(replaced["X-Request-ID"]) == 32
    ids = [line["request_id"] for line in _parsed(log_lines) if line["logger"] == "django.request"]
    assert ids[0] == "edge-7f3a.42_b"
    assert "CRITICAL" not in log_lines.getvalue()


@pytest.mark.django_db
def test_an_error_with_its_traceback_is_one_json_line_without_the_request_or_values(log_lines):
    """Django attaches the HttpRequest to the record (its query string, form and cookies); a
    database error's message can quote a row. Neither reaches the log."""
    http = HttpClient(raise_request_exception=False)
    http.cookies["handoff_note"] = CLIENT_NAME.replace(" ", "_")
    error = IntegrityError(f"duplicate key value: Key (name)=({CLIENT_NAME}) already exists")
    with mock.patch(
        "django.db.backends.base.base.BaseDatabaseWrapper.ensure_connection", side_effect=error
    ):
        response = http.post(f"/search/?q={CLIENT_NAME}", {"client_name": CLIENT_NAME})
    assert response.status_code == 500
    text = log_lines.getvalue()
    errors = [line for line in _parsed(log_lines) if line["level"] == "ERROR"]
    assert len(errors) == 1
    (line,) = errors
    assert line["message"] == "Internal Server Error: /search/"
    assert line["request_id"] == response["X-Request-ID"]
    assert "Traceback (most recent call last):" in line["exc_info"]
    assert line["exc_info"].rstrip().endswith("django.db.utils.IntegrityError")
    assert "Rosalind" not in text
    assert "WSGIRequest" not in text
    assert len([raw for raw in text.splitlines() if '"ERROR"' in raw]) == 1  # one line


@pytest.mark.django_db
def test_a_task_logs_with_its_task_id_and_the_request_keeps_its_own(log_lines):
    @app.task(name="tests.cms.test_json_logs.task_that_logs")
    def task_that_logs() -> None:
        logging.getLogger("handoff.test").info("task ran")

    from cms.logging_json import current_request_id

    token = current_request_id.set("the-request")
    try:
        result = task_that_logs.apply_async()
        after = current_request_id.get()
    finally:
        current_request_id.reset(token)
    (line,) = [line for line in _parsed(log_lines) if line["message"] == "task ran"]
    assert line["request_id"] == result.id
    assert after == "the-request"


@pytest.mark.django_db
def test_gunicorn_and_django_write_json_lines_sharing_the_request_id(tmp_path):
    """Production as deployed: gunicorn's own lines, its access line and Django's lines are all
    JSON; the access line carries the id the response returned; no query string anywhere."""
    # LOG_FORMAT removed: production's default, json.
    with production_gunicorn(
        tmp_path, secret_key=KEY, allowed_hosts="127.0.0.1", LOG_FORMAT=""
    ) as server:
        port = server.port
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=20)
        # A probe: plain HTTP, the pod's address as Host.
        conn.request("GET", "/healthz", headers={"Host": "10.42.7.19:8000"})
        probe = conn.getresponse()
        assert (probe.status, probe.read()) == (200, b"ok")
        conn.request(
            "GET",
            f"/no-such-page/?client={CLIENT_NAME.replace(' ', '+')}",
            headers={
                "Host": "127.0.0.1",
                "X-Forwarded-Proto": "https",
                "X-Request-ID": "edge-0042",
            },
        )
        missing = conn.getresponse()
        missing.read()
        assert missing.status == 404
        assert missing.getheader("X-Request-ID") == "edge-0042"
        conn.close()
    text = server.log.read_text()
    lines = [json.loads(raw) for raw in text.splitlines() if raw.strip()]  # every line is JSON
    access = [line for line in lines if line["logger"] == "gunicorn.access"]
    assert any(
        line["request_id"] == "edge-0042" and '"GET /no-such-page/"' in line["message"]
        for line in access
    ), access
    assert any(line["request_id"] == probe.getheader("X-Request-ID") for line in access)
    django = [line for line in lines if line["logger"] == "django.request"]
    assert [line["request_id"] for line in django] == ["edge-0042"]
    assert any(line["logger"] == "gunicorn.error" for line in lines)  # "Booting worker", …
    assert "Rosalind" not in text
