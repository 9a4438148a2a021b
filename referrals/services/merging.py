"""Merging duplicate clients: everything that points at the duplicate moves to the record
kept, in one transaction, with an audit entry (``ClientMerge``) that keeps the duplicate's
identity. Only the clinic's admins merge, and only two clients of their own clinic."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from cms.models import AppendOnlyModel
from network.models import Organization, User
from network.permissions import OrgPerm, user_has_org_perm
from referrals.models import Client, ClientMerge

# What the audit entry keeps of the removed record.
IDENTITY_FIELDS = (
    "first_name",
    "last_name",
    "date_of_birth",
    "external_id",
    "phone",
    "email",
    "address_1",
    "city",
    "state",
    "postal_code",
    "preferred_language",
    "contact_preference",
    "created_at",
)


def client_merge_permitted(user: User, organization: Organization) -> bool:
    """Clinic admins (the clinic's staff who also manage its members) may merge clients."""
    return (
        organization.sends_referrals
        and user_has_org_perm(user, OrgPerm.SEND_REFERRALS, organization)
        and user_has_org_perm(user, OrgPerm.MANAGE_MEMBERS, organization)
    )


def _identity(client: Client) -> dict[str, Any]:
    values = {name: getattr(client, name) for name in IDENTITY_FIELDS}
    return {
        "id": client.pk,
        **{k: v.isoformat() if hasattr(v, "isoformat") else v for k, v in values.items()},
    }


@transaction.atomic
def clients_merge(
    *,
    kept: Client,
    removed: Client,
    by: User,
    organization: Organization,
    now: datetime | None = None,
) -> ClientMerge:
    """Merge ``removed`` into ``kept``: its screenings, consents, referrals (every row that
    points at a client, except append-only history such as the access log, which keeps naming
    the record it was written for) move to ``kept``; ``removed`` is retired (``merged_into``),
    never deleted. PermissionDenied for anyone but the clinic's admins, ValidationError for
    two clients of different clinics or networks, the same client, or one already merged."""

    if not client_merge_permitted(by, organization):
        raise PermissionDenied(_("Only the clinic's admins may merge clients."))
    if kept.pk == removed.pk:
        raise ValidationError(_("Choose two different clients to merge."))
    if (
        kept.network_id != removed.network_id
        or kept.organization_id != removed.organization_id
        or kept.organization_id != organization.pk
    ):
        raise ValidationError(_("Only two clients of your own clinic can be merged."))
    locked = {
        c.pk: c for c in Client.objects.select_for_update().filter(pk__in=[kept.pk, removed.pk])
    }
    kept, removed = locked[kept.pk], locked[removed.pk]
    if kept.merged_into_id is not None or removed.merged_into_id is not None:
        raise ValidationError(_("One of these clients was already merged."))
    now = now or timezone.now()
    identity = _identity(removed)
    moved: dict[str, int] = {}
    for relation in Client._meta.related_objects:
        model = relation.related_model
        if model is Client or model is ClientMerge or issubclass(model, AppendOnlyModel):
            continue
        name = relation.field.name
        count = model._default_manager.filter(**{name: removed}).update(**{name: kept})
        if count:
            moved[model._meta.label] = count
    # Records merged into the duplicate before now point at the record kept.
    retired = Client.objects.filter(merged_into=removed).update(merged_into=kept)
    if retired:
        moved[Client._meta.label] = retired
    # The record number goes with the person: onto the kept record if it has none.
    external_id = removed.external_id
    removed.external_id = ""
    removed.merged_into = kept
    removed.merged_at = now
    removed.save(update_fields=["external_id", "merged_into", "merged_at", "updated_at"])
    if external_id and not kept.external_id:
        kept.external_id = external_id
        kept.save(update_fields=["external_id", "updated_at"])
    return ClientMerge.objects.create(
        network_id=kept.network_id,
        organization=organization,
        kept=kept,
        removed=removed,
        by=by,
        at=now,
        removed_identity=identity,
        moved=moved,
    )
