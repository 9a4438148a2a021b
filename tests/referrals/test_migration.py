"""The referral loop's models moved from ``network`` to ``referrals`` with their rows.

A database filled through the services (clients, screenings, consents, referrals with their
timeline, notifications, the access log, roles) is taken back to the layout before the move by
the migrations' reverse, where every row must be in the old ``network_*`` tables, and forward
again to the new layout, where every row, foreign key, content type and permission must be as it
was. Runs on the database of the test run: SQLite by default, PostgreSQL with DATABASE_URL.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from django.apps import apps
from django.contrib.auth.models import Permission
from django.contrib.contenttypes.models import ContentType
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from consent.models import AccessLog, Consent
from consent.services import access_log_write
from network.models import NetworkUserObjectPermission, OrganizationUserObjectPermission
from referrals.disclosure import disclosure_for
from referrals.models import Client, Notification, Referral, ReferralEvent, Screening
from referrals.services.clients import screening_record
from referrals.services.transitions import referral_message, referral_transition
from tests.network.factories import tenant_make
from tests.referrals.factories import loop_make

# The last migrations before the move, and the tables the moved models had there.
BEFORE_THE_MOVE = [
    ("network", "0009_invitation_and_membership_last_used"),
    ("consent", "0005_accesslog_network_administration"),
    ("referrals", None),
]
OLD_TABLES = {
    Client: "network_client",
    Screening: "network_screening",
    Referral: "network_referral",
    ReferralEvent: "network_referralevent",
    Notification: "network_notification",
}
# Every column that points at another row, per moved or pointing table.
FOREIGN_KEYS = {
    Client: ["network_id", "organization_id", "created_by_id"],
    Screening: ["client_id", "organization_id", "performed_by_id"],
    Referral: [
        "network_id",
        "client_id",
        "sender_id",
        "sent_by_id",
        "agency_id",
        "service_id",
        "location_id",
        "consent_id",
        "agreement_id",
    ],
    ReferralEvent: ["referral_id", "actor_id", "organization_id"],
    Notification: ["user_id", "referral_id"],
}


def rows(table: str, columns: list[str]) -> list[tuple[Any, ...]]:
    quoted = ", ".join(connection.ops.quote_name(c) for c in ["id", *columns])
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {quoted} FROM {connection.ops.quote_name(table)} ORDER BY id")  # noqa: S608
        return [tuple(row) for row in cursor.fetchall()]


def snapshot(tables: dict[type, str]) -> dict[str, Any]:
    """Every moved row with its foreign keys (read from ``tables``), the rows that point at
    them, their content types with their permissions, and the roles' grants."""
    moved = {model.__name__: rows(tables[model], FOREIGN_KEYS[model]) for model in FOREIGN_KEYS}
    types = ContentType.objects.filter(model__in=[m.__name__.lower() for m in FOREIGN_KEYS])
    return {
        "moved": moved,
        "consents": sorted(Consent.objects.values_list("pk", "client_id")),
        "access_log": sorted(AccessLog.objects.values_list("pk", "client_id", "referral_id")),
        "content_types": sorted(types.values_list("pk", "model")),
        "permissions": sorted(
            Permission.objects.filter(content_type__in=types).values_list(
                "pk", "codename", "content_type_id"
            )
        ),
        "grants": sorted(
            [
                *OrganizationUserObjectPermission.objects.values_list(
                    "user_id", "permission_id", "content_object_id"
                ),
                *NetworkUserObjectPermission.objects.values_list(
                    "user_id", "permission_id", "content_object_id"
                ),
            ]
        ),
    }


@pytest.fixture
def executor() -> Iterator[MigrationExecutor]:
    """Migrations run on the test database; whatever happens, it ends on the latest ones."""
    executor = MigrationExecutor(connection)
    latest = executor.loader.graph.leaf_nodes()
    try:
        yield executor
    finally:
        executor = MigrationExecutor(connection)
        executor.migrate(latest)
        # The cache of content types again holds every model's row, as the tests after this
        # one expect (restoring the first contents must not create any on the way).
        ContentType.objects.clear_cache()
        ContentType.objects.get_for_models(*apps.get_models())


def filled() -> None:
    """The whole loop through the services: two clients' worth of rows in every moved table."""
    loop = loop_make(tenant_make("Moved"))
    screening_record(client=loop.client, by=loop.clinic_staff, organization=loop.clinic, answers={})
    referral = loop.send()
    referral_message(
        referral=referral, by=loop.clinic_staff, organization=loop.clinic, text="Call after 5."
    )
    referral_transition(
        referral=referral,
        to="accepted",
        by=loop.agency_staff,
        organization=loop.food_agency,
        version=referral.version,
    )
    disclosure_for(referral, loop.food_agency, user=loop.agency_staff, purpose="view")
    access_log_write(
        user=loop.clinic_staff,
        organization=loop.clinic,
        purpose="client",
        fields=["name"],
        seen=[(loop.client.pk, None)],
        ip_address="127.0.0.1",
    )
    loop.send(service=loop.housing, key="k2", categories=["housing-instability"])


# Migrations commit; the database's first contents (Wagtail's root page…) come back afterwards.
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_an_existing_database_moves_without_losing_a_row(executor: MigrationExecutor) -> None:
    filled()
    new_tables = {model: model._meta.db_table for model in FOREIGN_KEYS}
    before = snapshot(new_tables)
    assert all(before["moved"].values()), before["moved"]  # every table has rows to lose
    assert before["access_log"]
    assert before["grants"]
    assert before["permissions"]

    executor.migrate(BEFORE_THE_MOVE)
    ContentType.objects.clear_cache()
    tables = connection.introspection.table_names()
    assert not [t for t in tables if t.startswith("referrals_")]
    old = snapshot(OLD_TABLES)
    assert old["moved"] == before["moved"]
    assert old["consents"] == before["consents"]
    assert old["access_log"] == before["access_log"]
    assert old["grants"] == before["grants"]
    # The content types (and so their permissions) were network's.
    assert set(
        ContentType.objects.filter(pk__in=[pk for pk, _ in before["content_types"]]).values_list(
            "app_label", flat=True
        )
    ) == {"network"}

    executor = MigrationExecutor(connection)
    executor.migrate(executor.loader.graph.leaf_nodes())
    ContentType.objects.clear_cache()
    after = snapshot(new_tables)
    assert after == before
    assert set(
        ContentType.objects.filter(pk__in=[pk for pk, _ in after["content_types"]]).values_list(
            "app_label", flat=True
        )
    ) == {"referrals"}
    assert not [t for t in connection.introspection.table_names() if t in OLD_TABLES.values()]
    with connection.cursor():
        connection.check_constraints()  # every foreign key still finds its row
    # The timeline is append-only on its new table, as it was on its old one.
    event = ReferralEvent.objects.first()
    assert event is not None
    with pytest.raises(Exception, match="append-only"):
        ReferralEvent.objects.filter(pk=event.pk).update(text="rewritten")
