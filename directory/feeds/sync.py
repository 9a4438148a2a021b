"""Running one sync of an HSDS feed (the sync task's work).

The whole feed is read first; only when every page came in is it applied, in one transaction,
through the HSDS importer in its skip-invalid mode: valid services are written as a file import
writes them, safe repairs are made, and invalid records are left out; the run's report says which
(the import's report, ``directory.hsds.building``). The listings that came from this feed and are
no longer in it are unpublished (never any other), and those it had unpublished and lists again
are published again. A listing the feed still lists but whose copy was skipped this time is still
in the feed: it is kept as it was, never unpublished for it. A feed that fails part way, or that
cannot be read as a whole, changes nothing; the run records why.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import requests
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from wagtail.models import Page

from cms.bulk import gc_paused
from network.models import Network

from ..hsds.building import build
from ..hsds.import_jobs import findings_rows
from ..hsds.import_writes import ImportReport
from ..hsds.importing import directory_import
from ..hsds.reading import Dataset, Problem, ReadError, read_json_objects
from ..hsds.records import REPAIRS, Directory, InvalidImport
from ..models import AgencyPage, FeedListing, FeedRun, FeedRunStatus, HsdsFeed, ServicePage
from ..services import directory_index_for
from .client import FeedSource, FeedUnavailable, feed_fetch
from .held import listings_hold, listings_snapshot

logger = logging.getLogger(__name__)

Progress = Callable[[int, int], None]


class FeedInvalid(Exception):
    """The feed came in whole but cannot be imported as a whole: its problems are not in any one
    record that could be left out (every problem listed)."""

    def __init__(self, problems: list[Problem], warnings: list[Problem]) -> None:
        super().__init__(f"{len(problems)} problem(s)")
        self.problems, self.warnings = problems, warnings


def feed_source(feed: HsdsFeed) -> FeedSource:
    return FeedSource(
        url=feed.url,
        api_key=feed.api_key,
        api_key_header=feed.api_key_header,
        per_page=feed.per_page,
    )


@gc_paused()
def feed_sync_run(
    *, run_id: int, session: requests.Session | None = None, progress: Progress | None = None
) -> FeedRun:
    """Run a queued sync: fetch the whole feed, then apply it in one transaction; the run records
    the report, or the reason nothing changed."""
    run = FeedRun.objects.select_related("feed__network").get(pk=run_id)
    claimed = FeedRun.objects.filter(pk=run.pk, status=FeedRunStatus.QUEUED).update(
        status=FeedRunStatus.RUNNING, started_at=timezone.now()
    )
    if not claimed:  # a task delivered twice: the first delivery runs (or ran) it
        return run
    feed = run.feed
    try:
        pages = FeedPages()
        fetched = feed_fetch(feed_source(feed), session=session, page_read=pages.add)
        run.pages, run.services, run.bytes_read = (
            fetched.page_count,
            fetched.services,
            fetched.bytes_read,
        )
        if not fetched.services:
            raise FeedUnavailable(
                _(
                    "The feed lists no services. Nothing was changed: a feed that empties by "
                    "mistake must not unpublish the directory (delete the feed, or unpublish "
                    "its listings, if it has really closed)."
                )
            )
        dataset = pages.dataset
        directory = _directory(dataset)
        report = _apply(run=run, network=feed.network, dataset=dataset, directory=directory)
    except FeedUnavailable as exc:
        run.status, run.summary = FeedRunStatus.FAILED, exc.reason
        run.problems = [["", None, "", exc.reason, _("refused: nothing changed")]]
    except FeedInvalid as exc:
        run.status = FeedRunStatus.FAILED
        run.summary = _("%(count)s problem(s) found in the feed; nothing was changed.") % {
            "count": len(exc.problems)
        }
        run.problems = [_row(p, _("refused: nothing changed")) for p in exc.problems]
        run.warnings = [_row(w, "") for w in exc.warnings]
    except BaseException:
        # Whatever stopped it, the run is over (the next one may start); nothing was applied.
        FeedRun.objects.filter(pk=run.pk).update(
            status=FeedRunStatus.FAILED,
            summary=_("The sync stopped on an unexpected error; nothing was changed."),
            finished_at=timezone.now(),
        )
        logger.exception("feed sync %s of feed %s stopped", run.pk, feed.pk)
        raise
    else:
        run.status = FeedRunStatus.DONE
        run.findings = findings_rows(report.findings)
        run.repaired = sum(f.action.startswith(REPAIRS) for f in report.findings)
        run.skipped = len(report.findings) - run.repaired
        parts = [report.summary() if report.changed else _("Nothing changed.")]
        if run.skipped or run.repaired:
            parts.append(
                _(
                    "%(skipped)s problem(s) left a record or part of one out; %(repaired)s safe "
                    "repair(s) made (see the report)."
                )
                % {"skipped": run.skipped, "repaired": run.repaired}
            )
        if run.unpublished:
            parts.append(
                _("%(count)s listing(s) no longer in the feed were unpublished.")
                % {"count": len(run.unpublished)}
            )
        if run.held:
            parts.append(
                _(
                    "%(count)s listing(s) the feed changed are held for review: their live "
                    "version is unchanged until a moderator approves."
                )
                % {"count": len(run.held)}
            )
        if run.republished:
            parts.append(
                _("%(count)s listing(s) back in the feed were published again.")
                % {"count": len(run.republished)}
            )
        run.summary = " ".join(parts)
        run.warnings = [_row(w, _warning_action(w)) for w in report.warnings]
    run.finished_at = timezone.now()
    run.save(
        update_fields=[
            "status",
            "summary",
            "problems",
            "warnings",
            "findings",
            "repaired",
            "skipped",
            "unpublished",
            "republished",
            "held",
            "pages",
            "services",
            "bytes_read",
            "finished_at",
        ]
    )
    if feed.sync_every_hours:
        HsdsFeed.objects.filter(pk=feed.pk).update(
            next_sync_at=run.finished_at + timedelta(hours=feed.sync_every_hours)
        )
    return run


class FeedPages:
    """The feed's pages flattened, as they come in, into one dataset: objects shared by services
    on several pages (an organization, a location) are kept once; a service listed twice means the
    pages shifted while they were read, and the read is refused."""

    def __init__(self) -> None:
        self.dataset = Dataset()
        self.seen: set[tuple[str, str]] = set()

    def add(self, number: int, contents: list[Any]) -> None:
        try:
            part = read_json_objects(contents, name=_("page %(number)s") % {"number": number})
        except ReadError as exc:
            raise FeedUnavailable(str(exc)) from exc
        merged = self.dataset
        merged.errors += part.errors
        merged.warnings += part.warnings
        for table, rows in part.tables.items():
            kept = merged.tables.setdefault(table, [])
            for row in rows:
                ident = str(row.get("id") or "")
                if ident:
                    if (table, ident) in self.seen:
                        if table == "services":
                            raise FeedUnavailable(
                                _(
                                    "Service %(id)s is listed twice (page %(page)s again): the "
                                    "feed's pages shifted while they were read; try again."
                                )
                                % {"id": ident, "page": number}
                            )
                        continue
                    self.seen.add((table, ident))
                kept.append(row)


def _directory(dataset: Dataset) -> Directory:
    """The feed's valid records (the rest left out and reported, as a skip-invalid import does);
    FeedInvalid if the feed cannot be read as a whole."""
    try:
        return build(dataset, skip_invalid=True)
    except InvalidImport as exc:
        raise FeedInvalid(list(exc.problems), list(exc.warnings)) from exc


def _listed_ids(dataset: Dataset, table: str) -> set[uuid.UUID]:
    """The ids of every ``table`` row the feed listed, valid or not."""
    ids: set[uuid.UUID] = set()
    for row in dataset.rows(table):
        try:
            ids.add(uuid.UUID(str(row.get("id") or "")))
        except ValueError:
            continue  # a row without a usable id names no stored listing
    return ids


def _apply(
    *, run: FeedRun, network: Network, dataset: Dataset, directory: Directory
) -> ImportReport:
    """Import the feed and bring its listings' marks, and their publication, up to date."""
    service_ids = {s.id for o in directory.organizations for s in o.services}
    agency_ids = {o.id for o in directory.organizations}
    # What the feed lists but this run left out (invalid): still in the feed, kept as it was.
    skipped_service_ids = _listed_ids(dataset, "services") - service_ids
    skipped_agency_ids = _listed_ids(dataset, "organizations") - agency_ids
    with transaction.atomic():
        # One writer per network at a time: two syncs placing new pages under the same parent
        # would compute the same tree paths.
        Network.objects.select_for_update().filter(pk=network.pk).first()
        index = directory_index_for(network)
        before: dict[int, dict[str, Any]] = {}
        if run.feed.hold_changes:
            existing = _pages_present(index=index, agency_ids=agency_ids, service_ids=service_ids)
            before = listings_snapshot(page_ids=existing)
        try:
            report = directory_import(network=network, dataset=dataset, directory=directory)
        except InvalidImport as exc:
            raise FeedInvalid(list(exc.problems), list(exc.warnings)) from exc
        run.held = listings_hold(before=before) if before else []
        present = _pages_present(index=index, agency_ids=agency_ids, service_ids=service_ids)
        kept = _pages_present(
            index=index, agency_ids=skipped_agency_ids, service_ids=skipped_service_ids
        )
        run.unpublished, run.republished = _listings_mark(run=run, present=present, kept=kept)
    return report


def _pages_present(
    *, index: Page, agency_ids: set[uuid.UUID], service_ids: set[uuid.UUID]
) -> dict[int, bool]:
    """The network's listing pages with these HSDS ids, with whether each is live."""
    present: dict[int, bool] = {}
    for model, ids in ((AgencyPage, agency_ids), (ServicePage, service_ids)):
        if not ids:
            continue
        rows = model.objects.descendant_of(index).values_list("pk", "hsds_id", "live")
        present.update({pk: live for pk, hsds_id, live in rows if hsds_id in ids})
    return present


def _listings_mark(
    *, run: FeedRun, present: dict[int, bool], kept: dict[int, bool]
) -> tuple[list[Any], list[Any]]:
    """Mark the delivered pages as this feed's; unpublish this feed's pages it no longer lists;
    publish again those it had unpublished and delivers again. ``kept`` are this feed's pages it
    still lists but whose copy was skipped: seen, left as they are. Returns the unpublished and
    the republished pages, as [page id, title]."""
    feed = run.feed
    marks = {m.page_id: m for m in FeedListing.objects.filter(page_id__in=list(present))}
    new = [
        FeedListing(feed=feed, page_id=pk, last_seen_run=run) for pk in present if pk not in marks
    ]
    FeedListing.objects.bulk_create(new, batch_size=1000)
    back = [pk for pk, m in marks.items() if m.unpublished_by_feed and not present[pk]]
    moved = [pk for pk, m in marks.items() if m.feed_id != feed.pk]
    FeedListing.objects.filter(page_id__in=list(marks)).update(
        feed=feed, last_seen_run=run, unpublished_by_feed=False
    )
    # Only its own marks: a skipped copy claims no listing (and one the feed had unpublished
    # stays so, to come back when a valid copy does).
    FeedListing.objects.filter(feed=feed, page_id__in=list(kept)).update(last_seen_run=run)
    gone = list(
        FeedListing.objects.filter(feed=feed)
        .exclude(last_seen_run=run)
        .exclude(unpublished_by_feed=True)
        .values_list("page_id", flat=True)
    )
    unpublished: list[Any] = []
    # Only what is live is taken down (and marked so): a listing a person unpublished stays theirs.
    for page in Page.objects.filter(pk__in=gone, live=True).specific().order_by("path"):
        page.unpublish()
        unpublished.append([page.pk, page.title])
    FeedListing.objects.filter(page_id__in=[pk for pk, _title in unpublished]).update(
        unpublished_by_feed=True
    )
    republished: list[Any] = []
    for page in Page.objects.filter(pk__in=back, live=False).specific().order_by("path"):
        page.save_revision(log_action=True).publish()
        republished.append([page.pk, page.title])
    if moved:
        logger.info("feed %s took over %s listing(s) from other feeds", feed.pk, len(moved))
    return unpublished, republished


def _row(problem: Problem, action: str) -> list[Any]:
    return [problem.file, problem.row, problem.field, problem.message, action]


def _warning_action(problem: Problem) -> str:
    # The importer may record what it did about a problem (a repair); otherwise it was reported.
    return str(getattr(problem, "action", "") or _("reported"))
