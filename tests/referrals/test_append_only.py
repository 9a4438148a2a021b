"""Timelines and the access log are written once; referrals are never deleted.

``save()``/``delete()`` refuse in Python; the database refuses too (``cms.append_only``): a raw
UPDATE or DELETE, ``QuerySet.update()`` or ``QuerySet.delete()`` fails on PostgreSQL and on
SQLite, while ``flush`` (test teardown) still empties the tables.
"""

from __future__ import annotations

import pytest
from django.core.management import call_command
from django.db import DatabaseError, connection, transaction

from cms.append_only import SQLITE_FUNCTION, append_only_uninstall
from consent.models import AccessLog
from referrals.disclosure import disclosure_for
from referrals.models import ReferralEvent

# The loop's fixed clock (tests/conftest.py): what a test does "now" comes before SENT_AT.
pytestmark = pytest.mark.usefixtures("clock_before_sent_at")

TABLES = {"access log": AccessLog, "referral timeline": ReferralEvent}
on_postgresql = pytest.mark.skipif(
    connection.vendor != "postgresql",
    reason="PostgreSQL-only: run with DATABASE_URL=postgres://… to check the PostgreSQL trigger",
)
on_sqlite = pytest.mark.skipif(
    connection.vendor != "sqlite", reason="SQLite-only: the default test database"
)


@pytest.fixture
def logged(loop):
    """A sent referral (one timeline event) seen once by the agency (one access-log row)."""
    referral = loop.send()
    disclosure_for(referral, loop.food_agency, user=loop.agency_staff)
    return referral


def refused(sql: str, params: list[object]) -> str:
    """Run ``sql`` in a savepoint; the database's refusal, as text ("" if it ran)."""
    try:
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(sql, params)
    except DatabaseError as exc:
        return str(exc)
    return ""


@pytest.mark.django_db
def test_events_and_access_log_rows_cannot_change_or_go(logged):
    event = logged.events.get()
    row = AccessLog.objects.get()
    for written in (event, row):
        with pytest.raises(ValueError, match="append-only"):
            written.save()
        with pytest.raises(ValueError, match="append-only"):
            written.delete()
    assert logged.events.count() == 1
    assert AccessLog.objects.count() == 1


def _raw_update_and_delete_are_refused(model) -> None:
    table = connection.ops.quote_name(model._meta.db_table)
    pk = model.objects.get().pk
    before = list(model.objects.values())
    # The table name comes from the model, not from input.
    update = refused(f"UPDATE {table} SET at = at WHERE id = %s", [pk])  # noqa: S608
    delete = refused(f"DELETE FROM {table} WHERE id = %s", [pk])  # noqa: S608
    assert "append-only" in update, update
    assert "append-only" in delete, delete
    assert list(model.objects.values()) == before


@on_postgresql
@pytest.mark.django_db
@pytest.mark.parametrize("model", TABLES.values(), ids=TABLES.keys())
def test_postgresql_refuses_raw_update_and_delete(logged, model):
    _raw_update_and_delete_are_refused(model)


@on_sqlite
@pytest.mark.django_db
@pytest.mark.parametrize("model", TABLES.values(), ids=TABLES.keys())
def test_sqlite_refuses_raw_update_and_delete(logged, model):
    _raw_update_and_delete_are_refused(model)


@pytest.mark.django_db
@pytest.mark.parametrize("model", TABLES.values(), ids=TABLES.keys())
def test_queryset_update_and_delete_are_refused(logged, model):
    """The ORM's bulk paths skip ``save()``/``delete()``; the database still says no."""
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        model.objects.update(at=model.objects.get().at)
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        model.objects.all().delete()
    assert model.objects.count() == 1


@pytest.mark.django_db
def test_migrate_puts_back_triggers_a_rebuilt_table_lost(logged):
    """SQLite drops a table's triggers when a migration rebuilds it: every migrate re-installs."""
    append_only_uninstall(connection, AccessLog._meta.db_table)
    assert refused("UPDATE consent_accesslog SET purpose = 'x'", []) == ""
    call_command("migrate", verbosity=0)
    assert "append-only" in refused("UPDATE consent_accesslog SET purpose = 'y'", [])
    assert set(AccessLog.objects.values_list("purpose", flat=True)) == {"x"}


@pytest.mark.django_db
def test_flush_still_empties_the_tables(loop):
    """Test teardown flushes (TRUNCATE on PostgreSQL, DELETE on SQLite): it must keep working.
    (Run inside the test's transaction, which rolls the emptied tables back: a real flush here
    would leave the next tests without the migrated rows they restore.)"""
    referral = loop.send()
    disclosure_for(referral, loop.food_agency, user=loop.agency_staff)
    assert ReferralEvent.objects.exists()
    assert AccessLog.objects.exists()
    if connection.vendor == "postgresql":  # no deferred foreign-key checks left pending
        with connection.cursor() as cursor:
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
    call_command("flush", interactive=False, verbosity=0, inhibit_post_migrate=True)
    assert not ReferralEvent.objects.exists()
    assert not AccessLog.objects.exists()
    if connection.vendor == "sqlite":  # the flush's exemption ended with it
        with connection.cursor() as cursor:
            cursor.execute(f"SELECT {SQLITE_FUNCTION}()")
            assert cursor.fetchone() == (1,)


@pytest.mark.django_db
def test_referrals_are_never_deleted(loop):
    referral = loop.send()
    with pytest.raises(ValueError, match="never deleted"):
        referral.delete()
    assert type(referral).objects.filter(pk=referral.pk).exists()
