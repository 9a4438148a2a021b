"""What an HSDS import did, and the buffered bulk writes the importer counts it from.

The importer (``directory.hsds.importing``) decides what each record becomes; the base class here
keeps the rows to create, update and delete until a batch is flushed, and inserts new pages into
Wagtail's tree in bulk.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.contrib.contenttypes.models import ContentType
from django.db import connections, models, router
from django.utils import timezone
from wagtail.models import Page

from cms.bulk import rows_insert

from ..models import Location
from .reading import Problem
from .records import Finding


@dataclass
class ImportReport:
    """What an import did, per kind of object (``created`` / ``updated`` / ``unchanged``)."""

    created: Counter[str] = field(default_factory=Counter)
    updated: Counter[str] = field(default_factory=Counter)
    unchanged: Counter[str] = field(default_factory=Counter)
    deleted: Counter[str] = field(default_factory=Counter)
    warnings: list[Problem] = field(default_factory=list)
    # What was repaired and what was skipped (skip-invalid), one line of the report each.
    findings: list[Finding] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return bool(
            sum(self.created.values()) + sum(self.updated.values()) + sum(self.deleted.values())
        )

    def summary(self) -> str:
        kinds = sorted(
            set(self.created) | set(self.updated) | set(self.unchanged) | set(self.deleted)
        )
        return "; ".join(
            f"{kind}: {self.created[kind]} created, {self.updated[kind]} updated, "
            f"{self.unchanged[kind]} unchanged, {self.deleted[kind]} deleted"
            for kind in kinds
        )


def values_assign(obj: models.Model, values: dict[str, Any]) -> bool:
    """Set the values that differ; True if any did. Relations are compared by id (no fetch)."""
    changed = False
    for name, value in values.items():
        attname = f"{name}_id"
        if attname in obj.__dict__:
            if obj.__dict__[attname] != (value.pk if value is not None else None):
                setattr(obj, name, value)
                changed = True
        elif getattr(obj, name) != value:
            setattr(obj, name, value)
            changed = True
    return changed


class ImportWrites:
    """Buffered writes of one import, counted into its report as they are buffered.

    New pages skip Wagtail's per-page save (and its per-save signals): their tree paths are
    computed here and rows are inserted in bulk, which is what makes large imports fast.
    """

    # Existing child rows by (model, page id), loaded by the importer before it syncs them.
    children: dict[tuple[type[models.Model], int], list[Any]]

    def __init__(self, report: ImportReport) -> None:
        self.report = report
        # Ids of rows the input had but that were skipped: their stored copies stay as they are.
        self.skipped_ids: set[Any] = set()
        self.new_page_ids: list[int] = []
        self.creates: dict[type[models.Model], list[models.Model]] = defaultdict(list)
        self.updates: dict[tuple[type[models.Model], tuple[str, ...]], list[models.Model]] = (
            defaultdict(list)
        )
        self.deletes: dict[type[models.Model], list[int]] = defaultdict(list)
        # New rows nobody needs back as objects: written with one executemany per table.
        self.rows: dict[type[models.Model], list[dict[str, Any]]] = defaultdict(list)
        # Rows inserted so far, per model (pages: their Wagtail table and their own).
        self.inserted: Counter[type[models.Model]] = Counter()

    def _flush(self) -> None:
        for model, pks in self.deletes.items():
            model._default_manager.filter(pk__in=pks).delete()
        for (model, fields), objs in self.updates.items():
            model._default_manager.bulk_update(objs, list(fields), batch_size=500)
        for model, objs in self.creates.items():
            model._default_manager.bulk_create(objs, batch_size=500)
            self.inserted[model] += len(objs)
        for model, rows in self.rows.items():
            rows_insert(model, rows)
            self.inserted[model] += len(rows)
        self.creates.clear()
        self.rows.clear()
        self.updates.clear()
        self.deletes.clear()

    def _count(self, kind: str, created: bool, changed: bool) -> None:
        if created:
            self.report.created[kind] += 1
        elif changed:
            self.report.updated[kind] += 1
        else:
            self.report.unchanged[kind] += 1

    def _flush_model(self, model: type[models.Model]) -> None:
        objs = self.creates.pop(model, [])
        if objs:
            model._default_manager.bulk_create(objs, batch_size=500)
            self.inserted[model] += len(objs)

    def _sync(
        self,
        kind: str,
        model: type[models.Model],
        page: Page,
        wanted: Sequence[dict[str, Any]],
        key: Callable[[Any], Any],
    ) -> list[Any]:
        """Buffer the writes that make one page's child rows equal ``wanted`` (matched by key)."""
        current = {key(obj): obj for obj in self.children.pop((model, page.pk), [])}
        kept = []
        for order, values in enumerate(wanted):
            values = {**values, "sort_order": order}
            obj = current.pop(key(values), None)
            if obj is None:
                if model is Location:  # other rows refer to locations: they need their ids
                    obj = model(**{"page": page, **values})
                    self.creates[model].append(obj)
                else:
                    self.rows[model].append({"page": page, **values})
                self.report.created[kind] += 1
            elif values_assign(obj, values):
                self.updates[(model, tuple(sorted(values)))].append(obj)
                self.report.updated[kind] += 1
            else:
                self.report.unchanged[kind] += 1
            kept.append(obj)
        gone = [o for o in current.values() if getattr(o, "hsds_id", None) not in self.skipped_ids]
        if gone:
            self.deletes[model] += [obj.pk for obj in gone]
            self.report.deleted[kind] += len(gone)
        return kept

    def _pages_insert(self, groups: list[tuple[Page, list[Any]]]) -> None:
        """Insert new live pages under their parents in bulk (no per-page save or signals).

        A parent created by this import has no children yet; any other parent is asked for its
        last child, and its child count updated.
        """
        groups = [(parent, pages) for parent, pages in groups if pages]
        if not groups:
            return
        model = type(groups[0][1][0])
        now = timezone.now()
        content_type = ContentType.objects.get_for_model(model)
        new_parents = set(self.new_page_ids)
        every: list[Any] = []
        for parent, pages in groups:
            step = 1
            if parent.pk not in new_parents:
                last = (
                    Page.objects.filter(path__startswith=parent.path, depth=parent.depth + 1)
                    .order_by("-path")
                    .values_list("path", flat=True)
                    .first()
                )
                step = Page._str2int(last[-Page.steplen :]) + 1 if last else 1
                Page.objects.filter(pk=parent.pk).update(numchild=models.F("numchild") + len(pages))
            for offset, page in enumerate(pages):
                page.path = Page._get_path(parent.path, parent.depth + 1, step + offset)
                page.depth = parent.depth + 1
                page.url_path = f"{parent.url_path}{page.slug}/"
                page.content_type, page.locale_id = content_type, parent.locale_id
                page.live, page.has_unpublished_changes = True, False
                page.draft_title = page.title
                page.first_published_at = page.last_published_at = now
            every += pages
        connection = connections[router.db_for_write(Page)]
        if connection.vendor == "postgresql":
            # Take the ids from the table's sequence, then COPY rows that carry them.
            with connection.cursor() as cursor:
                cursor.execute(
                    "SELECT nextval(pg_get_serial_sequence(%s, 'id')) FROM generate_series(1, %s)",
                    [Page._meta.db_table, len(every)],
                )
                ids = [row[0] for row in cursor.fetchall()]
            for page, pk in zip(every, ids, strict=True):
                page.id = page.page_ptr_id = pk
            base = list(Page._meta.concrete_fields)
            rows_insert(
                Page,
                [{f.attname: getattr(page, f.attname) for f in base} for page in every],
                fields=base,
            )
        else:
            base_names = [f.attname for f in Page._meta.concrete_fields if not f.primary_key]
            bases = Page.objects.bulk_create(
                [Page(**{name: getattr(page, name) for name in base_names}) for page in every],
                batch_size=500,
            )
            for page, stored in zip(every, bases, strict=True):
                page.id = page.page_ptr_id = stored.pk
        for page in every:
            page._state.adding, page._state.db = False, connection.alias
        local = list(model._meta.local_concrete_fields)
        rows_insert(
            model,
            [{f.attname: getattr(page, f.attname) for f in local} for page in every],
            fields=local,
        )
        self.new_page_ids += [page.pk for page in every]
        self.inserted[Page] += len(every)
        self.inserted[model] += len(every)
