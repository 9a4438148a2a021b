"""Work queued once, when a change commits, is retried with backoff while the database cannot be
reached (a restart, a failover): nothing else would queue it again. The periodic sweeps are not
retried: their next run does the same work. (tests/search/test_indexing.py runs one such retry.)"""

from __future__ import annotations

import pytest
from django.db import InterfaceError, OperationalError

from directory import followup_tasks
from network import tasks as network_tasks
from search import tasks as search_tasks

QUEUED_ONCE = [
    search_tasks.search_documents_refresh,
    search_tasks.search_documents_push,
    followup_tasks.location_geocode,
    followup_tasks.pages_search_index,
    followup_tasks.hsds_documents_rebuild,
    followup_tasks.listing_verification_send,
    network_tasks.membership_notify_granted,
    network_tasks.invitation_notify,
]


@pytest.mark.parametrize("task", QUEUED_ONCE, ids=lambda task: task.name)
def test_retried_while_the_database_is_unreachable(task):
    assert {OperationalError, InterfaceError} <= set(task.autoretry_for)
    assert task.retry_backoff
    assert task.retry_kwargs["max_retries"] >= 8  # with backoff: several minutes in all
