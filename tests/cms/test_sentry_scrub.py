"""Sentry gets what finds a bug and nothing about a person: an event as the Django, Celery and
logging integrations build it, with a client's name everywhere it could be, comes out clean."""

from __future__ import annotations

import copy
import json

from cms.sentry import before_send, sentry_options
from tests.cms.support import STRONG_KEY, manage_run

NAME = "Rosalind Quintero"


def _event() -> dict:
    """Shaped like sentry-sdk 2's events (Django request, exception with frames, breadcrumbs)."""
    return {
        "event_id": "0f1e2d3c4b5a69788796a5b4c3d2e1f0",
        "level": "error",
        "platform": "python",
        "environment": "production",
        "transaction": "/workspace/clients/<int:pk>/",
        "request": {
            "method": "POST",
            "url": f"https://humboldt.example.org/workspace/clients/12/?name={NAME}",
            "query_string": f"name={NAME.replace(' ', '+')}&dob=1961-04-02",
            "data": {"first_name": "Rosalind", "last_name": "Quintero", "notes": "diabetic"},
            "cookies": {"sessionid": "abc123", "last_client": NAME},
            "headers": {
                "Host": "humboldt.example.org",
                "User-Agent": "Mozilla/5.0",
                "Cookie": f"sessionid=abc123; last_client={NAME}",
                "Referer": f"https://humboldt.example.org/search/?q={NAME}",
                "X-Request-Id": "edge-0042",
                "Authorization": "Bearer secret-token",
            },
            "env": {"REMOTE_ADDR": "203.0.113.9", "SERVER_NAME": "web-1"},
        },
        "user": {"id": "7", "email": "case.worker@clinic.example.org", "username": "cworker"},
        "exception": {
            "values": [
                {
                    "type": "IntegrityError",
                    "module": "django.db.utils",
                    "value": f"duplicate key value: Key (name)=({NAME}) already exists",
                    "stacktrace": {
                        "frames": [
                            {
                                "filename": "referrals/services.py",
                                "function": "client_create",
                                "lineno": 88,
                                "vars": {"name": f"'{NAME}'", "dob": "'1961-04-02'"},
                            }
                        ]
                    },
                },
                {
                    "type": "ValueError",
                    "module": "builtins",
                    "value": "not a valid date",
                    "stacktrace": {"frames": [{"function": "clean", "vars": {"raw": NAME}}]},
                },
            ]
        },
        "threads": {"values": [{"stacktrace": {"frames": [{"vars": {"client": NAME}}]}}]},
        "breadcrumbs": {
            "values": [
                {
                    "type": "default",
                    "category": "query",
                    "message": 'SELECT "referrals_client"."id" FROM "referrals_client" WHERE '
                    '"referrals_client"."name" = %s',
                    "data": {"db.params": [NAME], "db.paramstyle": "format"},
                    "timestamp": "2026-12-03T20:00:00Z",
                },
                {
                    "type": "log",
                    "category": "referrals",
                    "level": "info",
                    "message": f"Client {NAME} matched an existing record",
                    "data": {"client": NAME},
                },
                {
                    "type": "http",
                    "category": "httplib",
                    "data": {
                        "method": "POST",
                        "url": f"https://ehr.example.org/fhir/Patient?name={NAME}",
                        "status_code": 201,
                    },
                },
            ]
        },
        "extra": {
            "celery-job": {"task_name": "referrals.tasks.notify", "args": [NAME], "kwargs": {}},
            "request": f"<WSGIRequest: POST '/workspace/clients/12/?name={NAME}'>",
        },
        "contexts": {
            "runtime": {"name": "CPython", "version": "3.11.7"},
            "trace": {"trace_id": "a" * 32, "span_id": "b" * 16},
            "response": {"body": NAME},
        },
        "logentry": {
            "message": "Client %s matched",
            "params": [NAME],
            "formatted": f"Client {NAME} matched",
        },
        "spans": [
            {
                "op": "http.client",
                "description": f"GET https://ehr.example.org/fhir/Patient?name={NAME}",
                "data": {"url": NAME},
            },
            {"op": "db", "description": "SELECT 1 WHERE name = %s", "data": {"db.params": [NAME]}},
        ],
        "tags": {"celery_task_id": "c0ffee"},
    }


def test_no_client_data_survives_the_scrub():
    scrubbed = before_send(_event(), {})
    text = json.dumps(scrubbed)
    for value in ("Rosalind", "Quintero", "1961", "diabetic", "abc123", "secret-token"):
        assert value not in text, value
    assert "203.0.113.9" not in text
    assert "case.worker" not in text


def test_what_finds_the_bug_is_kept():
    scrubbed = before_send(_event(), {})
    assert scrubbed["request"] == {
        "method": "POST",
        "url": "https://humboldt.example.org/workspace/clients/12/",
        "headers": {
            "Host": "humboldt.example.org",
            "User-Agent": "Mozilla/5.0",
            "X-Request-Id": "edge-0042",
        },
    }
    assert scrubbed["user"] == {"id": "7"}
    database, other = scrubbed["exception"]["values"]
    assert database["value"] == "IntegrityError"  # a database error's message can quote a row
    assert other["value"] == "not a valid date"
    assert database["stacktrace"]["frames"][0]["function"] == "client_create"
    assert database["stacktrace"]["frames"][0]["lineno"] == 88
    query, logged, outgoing = scrubbed["breadcrumbs"]["values"]
    assert query["message"].endswith('"name" = %s')  # the statement, not its values
    assert "data" not in query
    assert logged == {"type": "log", "category": "referrals", "level": "info"}
    assert outgoing["data"] == {
        "method": "POST",
        "url": "https://ehr.example.org/fhir/Patient",
        "status_code": 201,
    }
    assert scrubbed["extra"] == {"celery-job": {"task_name": "referrals.tasks.notify"}}
    assert set(scrubbed["contexts"]) == {"runtime", "trace"}
    assert scrubbed["logentry"] == {"message": "Client %s matched"}
    assert scrubbed["spans"][0]["description"] == "GET https://ehr.example.org/fhir/Patient"
    assert scrubbed["transaction"] == "/workspace/clients/<int:pk>/"
    assert scrubbed["tags"] == {"celery_task_id": "c0ffee"}


def test_an_event_without_a_request_or_user_passes_through():
    event = {"event_id": "1", "level": "warning", "message": "Readiness check cache failed"}
    assert before_send(copy.deepcopy(event), {}) == event


def test_sentry_is_set_up_to_send_nothing_personal():
    options = sentry_options(
        dsn="https://public@sentry.example.org/1",
        environment="production",
        release=None,
        traces_sample_rate=0.0,
    )
    assert options["send_default_pii"] is False
    assert options["max_request_body_size"] == "never"
    assert options["include_local_variables"] is False
    assert options["before_send"] is before_send
    assert options["before_send_transaction"] is before_send
    assert {type(i).__name__ for i in options["integrations"]} == {
        "DjangoIntegration",
        "CeleryIntegration",
    }


def test_production_starts_sentry_only_with_a_dsn():
    script = (
        "import sentry_sdk; c = sentry_sdk.get_client(); "
        "hook = c.options.get('before_send'); "
        "print(c.is_active(), c.options['send_default_pii'], getattr(hook, '__module__', None))"
    )
    common = {
        "SECRET_KEY": STRONG_KEY,
        "ALLOWED_HOSTS": "handoff.example.org",
        "CELERY_BROKER_URL": "redis://127.0.0.1:6379/0",
        "WAGTAILADMIN_BASE_URL": "https://handoff.example.org",
    }
    with_dsn = manage_run(
        ["shell", "-c", script], SENTRY_DSN="https://public@127.0.0.1:9/1", **common
    )
    assert with_dsn.returncode == 0, with_dsn.stderr
    assert with_dsn.stdout.strip().splitlines()[-1] == "True False cms.sentry"
    without = manage_run(["shell", "-c", script], SENTRY_DSN="", **common)
    assert without.returncode == 0, without.stderr
    assert without.stdout.strip().splitlines()[-1].startswith("False")
