"""Holding what a feed changes in existing listings for review (a feed's "hold changes" setting).

Before the sync imports, the content of every listing the feed delivers again is kept as a
revision would store it; after the import, each listing whose content differs gets a new revision
holding the feed's version, submitted to the network's listing review, and its live content is
written back as it was. A moderator's approval publishes the feed's version; until then readers
see what the network's editors last published. All of it runs in the sync's transaction.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from django.core.serializers.json import DjangoJSONEncoder
from wagtail.models import Page

# What a page row carries besides its content: tree place, publication and revision bookkeeping.
# The restored live row keeps the current values of these (the import may have added children).
_BOOKKEEPING = frozenset(
    {
        "pk",
        "path",
        "depth",
        "numchild",
        "url_path",
        "live",
        "has_unpublished_changes",
        "first_published_at",
        "last_published_at",
        "live_revision",
        "latest_revision",
        "latest_revision_created_at",
        "draft_title",
        "locked",
        "locked_at",
        "locked_by",
        "go_live_at",
        "expire_at",
        "expired",
        "content_type",
        "owner",
        "locale",
        "translation_key",
        "alias_of",
    }
)


def listings_snapshot(*, page_ids: Iterable[int]) -> dict[int, dict[str, Any]]:
    """Each page's content (with its child rows and links) as a revision stores it, by page id."""
    pages = Page.objects.filter(pk__in=list(page_ids)).specific()
    return {page.pk: page.serializable_data() for page in pages}


def listings_hold(*, before: dict[int, dict[str, Any]]) -> list[list[Any]]:
    """For every page whose content changed since ``before`` was taken: save the new content as a
    revision submitted for moderation, and put the live content back. Returns the held pages as
    [page id, title] (the feed's title), in tree order."""
    held: list[list[Any]] = []
    pages = Page.objects.filter(pk__in=list(before)).specific().order_by("path")
    for page in pages:
        old, new = before[page.pk], page.serializable_data()
        if _content(old) == _content(new):
            continue
        latest = page.get_latest_revision()
        waiting = (
            latest is not None
            and latest.pk != page.live_revision_id
            and _content(latest.content) == _content(new)
        )
        live = type(page).from_serializable_data(old)
        for name in _BOOKKEEPING - {"pk"}:
            field = page._meta.get_field(name)
            setattr(live, field.attname, getattr(page, field.attname))
        # The feed's version in memory, child rows included (the table rows are put back below).
        draft = type(page).from_serializable_data(new)
        live.save(clean=False)  # the live row and its child rows as they were before the sync
        if not waiting:  # the same change held by an earlier sync is not submitted twice
            draft.save_revision(log_action=True, clean=False)
            workflow = draft.get_workflow()
            # A review in progress takes the new revision: approving it publishes the latest.
            if workflow is not None and not draft.workflow_in_progress:
                workflow.start(draft, None)
        held.append([page.pk, page.title])
    return held


def _content(data: dict[str, Any]) -> dict[str, Any]:
    """The content fields, as JSON would give them back (a revision's dates are strings)."""
    kept = {name: value for name, value in data.items() if name not in _BOOKKEEPING}
    return json.loads(json.dumps(kept, cls=DjangoJSONEncoder))
