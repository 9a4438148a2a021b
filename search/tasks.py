"""Search indexing in the background; tasks only call services."""

from __future__ import annotations

from celery import shared_task

from cms.errors import DATABASE_UNREACHABLE

from . import services
from .backends import SearchBackendUnavailable


@shared_task(
    autoretry_for=DATABASE_UNREACHABLE,
    retry_backoff=True,
    retry_backoff_max=300,
    retry_kwargs={"max_retries": 12},
)
def search_documents_refresh(service_ids: list[int]) -> int:
    """Rebuild these services' index rows, then send them to the other backends (retried
    while the database is unreachable: nothing else would refresh them)."""
    report = services.search_documents_refresh(service_ids=service_ids)
    search_documents_push.delay(service_ids, report.removed_keys)
    return report.written


@shared_task(
    autoretry_for=(SearchBackendUnavailable, *DATABASE_UNREACHABLE),
    retry_backoff=True,
    retry_backoff_max=600,
    retry_kwargs={"max_retries": 12},
)
def search_documents_push(service_ids: list[int], removed_keys: list[str]) -> int:
    """Copy these services' current rows to every non-database backend (retried while down)."""
    return services.search_documents_push(service_ids=service_ids, removed_keys=removed_keys)
