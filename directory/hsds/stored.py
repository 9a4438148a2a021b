"""The stored HSDS documents of published services (``ServiceDocument``): kept in step with the
directory, in the same transaction as the change (``directory.signals``), and rebuilt whole by
``manage.py hsds_documents_rebuild``.

The serializer builds them (``directory.hsds.documents``, the objects ``hsds_export`` writes);
this module only decides which services have one and writes the rows in bulk.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import orjson
from django.core.serializers.json import DjangoJSONEncoder
from django.db import transaction
from wagtail.models import Page

from cms.bulk import gc_paused, rows_insert
from network.models import Network

from ..models import ServiceDocument, ServicePage
from . import documents, selectors

BATCH = 500
Progress = Callable[[int, int], None]


_encoder = DjangoJSONEncoder()


def _text(obj: Any) -> str:
    # orjson: compact UTF-8, several times faster than the json module on these large objects;
    # what it cannot encode itself (a Decimal) goes to Django's encoder.
    return orjson.dumps(obj, default=_encoder.default).decode()


def _build(network: Network, pks: Sequence[int]) -> list[dict[str, Any]]:
    """The document rows of the published services of ``network`` among ``pks`` (a fixed
    number of queries); the others are left out."""
    return [
        {
            "service_id": service.pk,
            "network_id": network.pk,
            "path": service.path,
            "hsds_id": service.hsds_id,
            "organization_id": full["organization_id"],
            "title": service.title,
            "alternate_name": service.alternate_name,
            "description": service.description,
            "status": service.status,
            "fee_type": service.fee_type,
            "referral_method": service.referral_method,
            "last_published_at": service.last_published_at,
            "full": _text(full),
            "summary": _text(summary),
        }
        for service, full, summary in documents.service_documents(pks, network=network)
    ]


def _write(rows: list[dict[str, Any]]) -> int:
    # Plain rows in bulk (COPY on PostgreSQL): the documents are large JSON texts, and the
    # ORM's bulk insert passes through psycopg's query splitting (multi-row VALUES) or
    # escapes every quote in Python (UNNEST arrays).
    rows_insert(ServiceDocument, rows, fields=list(ServiceDocument._meta.concrete_fields))
    return len(rows)


def _networks_of(paths: Iterable[str]) -> dict[str, Network]:
    """The network of each site-root path (a directory page's first two tree steps)."""
    roots = {path[: Page.steplen * 2] for path in paths}
    return {
        n.site.root_page.path: n
        for n in Network.objects.filter(site__root_page__path__in=roots).select_related(
            "site__root_page"
        )
    }


@transaction.atomic
def service_documents_refresh(*, service_ids: Iterable[int]) -> int:
    """Rewrite the documents of these services from their published pages; a service that is
    no longer published (unpublished, its agency unpublished, moved out, deleted) loses its
    document. Returns the documents written."""
    ids = sorted(set(service_ids))
    written = 0
    for start in range(0, len(ids), BATCH):
        batch = ids[start : start + BATCH]
        ServiceDocument.objects.filter(service_id__in=batch).delete()
        paths = dict(ServicePage.objects.filter(pk__in=batch).values_list("pk", "path"))
        networks = _networks_of(paths.values())
        by_network: dict[int, list[int]] = defaultdict(list)
        for pk, path in paths.items():
            network = networks.get(path[: Page.steplen * 2])
            if network is not None:
                by_network[network.pk].append(pk)
        for network in networks.values():
            written += _write(_build(network, by_network[network.pk]))
    return written


@gc_paused()
@transaction.atomic
def service_documents_rebuild(*, network: Network, progress: Progress | None = None) -> int:
    """Rebuild every document of ``network`` in one transaction; returns the documents written.

    Readers keep the old rows until the transaction commits."""
    ServiceDocument.objects.filter(network=network).delete()
    pks = list(selectors.published_services(network=network).values_list("pk", flat=True))
    written = 0
    for start in range(0, len(pks), BATCH):
        written += _write(_build(network, pks[start : start + BATCH]))
        if progress is not None:
            progress(min(start + BATCH, len(pks)), len(pks))
    return written


def agency_service_ids(agency: Page) -> list[int]:
    """Every service page under an agency, published or not."""
    return list(ServicePage.objects.child_of(agency).values_list("pk", flat=True))
