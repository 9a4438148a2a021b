"""Every write to the directory. The HSDS importer and ``seed_demo`` both build listings here."""

from __future__ import annotations

import hashlib
import shutil
import tempfile
import uuid
import zipfile
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from django.conf import settings
from django.contrib.contenttypes.models import ContentType
from django.core import signing
from django.core.cache import cache
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files.uploadedfile import UploadedFile
from django.db import connections, models, router, transaction
from django.utils import timezone
from django.utils.text import slugify
from django.utils.translation import gettext
from wagtail.models import (
    GroupApprovalTask,
    Page,
    Workflow,
    WorkflowPage,
    WorkflowTask,
)

from cms.bulk import rows_insert
from network import services as network_services
from network.models import Network, Organization, OrganizationKind, User
from network.permissions import (
    NetworkPerm,
    OrgPerm,
    organizations_users_with_perm,
    user_has_network_perm,
    user_has_org_perm,
)

from .changes import services_changed_send
from .geocoding import geocode
from .hsds.building import build
from .hsds.reading import MAX_FILE_BYTES, Dataset, Problem, ReadError, read, zip_check
from .hsds.records import (
    Directory,
    InvalidImport,
    LocationRecord,
    OrganizationRecord,
    PhoneRecord,
    ServiceRecord,
    TermRecord,
)
from .models import (
    AgencyPage,
    CapacityStatus,
    CostOption,
    DirectoryImport,
    DirectoryImportStatus,
    DirectoryIndexPage,
    GeocodeStatus,
    ListingEditorGroup,
    ListingField,
    ListingSuggestion,
    ListingVerification,
    Location,
    LocationHours,
    LocationPoint,
    Phone,
    RequiredDocument,
    SdohCategory,
    ServiceArea,
    ServiceAtLocation,
    ServiceCapacity,
    ServiceHours,
    ServicePage,
    ServicePhone,
    SuggestionStatus,
    TaxonomyTerm,
)
from .tenancy import page_network

Progress = Callable[[int, int], None]

__all__ = ["ImportReport", "InvalidImport", "directory_import", "directory_index_for"]

SUGGESTION_MAX_LENGTH = 5000


@dataclass
class ImportReport:
    """What an import did, per kind of object (``created`` / ``updated`` / ``unchanged``)."""

    created: Counter[str] = field(default_factory=Counter)
    updated: Counter[str] = field(default_factory=Counter)
    unchanged: Counter[str] = field(default_factory=Counter)
    deleted: Counter[str] = field(default_factory=Counter)
    warnings: list[Problem] = field(default_factory=list)

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


def directory_index_for(network: Network) -> DirectoryIndexPage:
    """The network's directory page, created under its home page on first use."""
    home = network.root_page
    index = DirectoryIndexPage.objects.child_of(home).first()
    if index is None:
        index = DirectoryIndexPage(
            title="Directory", slug="directory", intro="Community services in the network."
        )
        home.add_child(instance=index)
        directory_workflow_ensure(network=network, index=index)
    return index


def directory_import(
    *, network: Network, dataset: Dataset, progress: Progress | None = None
) -> ImportReport:
    """Upsert a whole HSDS dataset into ``network``'s directory, by HSDS id, in one transaction.

    Raises InvalidImport (listing every problem, nothing written) if the input has errors.
    Re-importing the same data changes nothing.
    """
    directory = build(dataset)
    with transaction.atomic():
        return _Importer(network, directory, progress).run()


IMPORT_CHUNK = 200  # organizations per batch of bulk writes


class _Importer:
    """Applies a checked Directory: bulk inserts for what is new, targeted updates otherwise.

    New pages skip Wagtail's per-page save (and its per-save signals): their tree paths are
    computed here and rows are inserted in bulk, which is what makes large imports fast. Pages
    that change go through ``Page.save``.
    """

    def __init__(self, network: Network, directory: Directory, progress: Progress | None) -> None:
        self.network = network
        self.directory = directory
        self.progress = progress or (lambda done, total: None)
        self.report = ImportReport(warnings=list(directory.warnings))
        self.categories = {c.code: c.pk for c in SdohCategory.objects.all()}
        self.terms: dict[uuid.UUID, TaxonomyTerm] = {}
        self.locations: dict[uuid.UUID, Location] = {}
        self.touched_locations: list[Location] = []
        self.new_page_ids: list[int] = []
        self.creates: dict[type[models.Model], list[models.Model]] = defaultdict(list)
        self.updates: dict[tuple[type[models.Model], tuple[str, ...]], list[models.Model]] = (
            defaultdict(list)
        )
        self.deletes: dict[type[models.Model], list[int]] = defaultdict(list)
        # New rows nobody needs back as objects: written with one executemany per table.
        self.rows: dict[type[models.Model], list[dict[str, Any]]] = defaultdict(list)

    def run(self) -> ImportReport:
        self.index = directory_index_for(self.network)
        self._service_types(self.directory.service_types)
        self._preload()
        total, done = self.directory.service_count, 0
        records = self.directory.organizations
        for start in range(0, len(records), IMPORT_CHUNK):
            chunk = records[start : start + IMPORT_CHUNK]
            agencies = self._agencies(chunk)
            self._flush()
            self._services(
                [(agency, record.services) for record, agency in zip(chunk, agencies, strict=True)]
            )
            self._flush()
            done += sum(len(r.services) for r in chunk)
            self.progress(done, total)
        queued = location_points_refresh(locations=self.touched_locations)
        if queued:
            self.report.warnings.append(
                Problem(
                    "locations",
                    None,
                    "latitude",
                    f"{len(queued)} location(s) without coordinates will be placed from their "
                    "address",
                )
            )
        if self.report.changed:
            services_changed_send(page.pk for page in self.service_pages.values())
        if self.new_page_ids:
            from . import tasks

            ids = list(self.new_page_ids)
            transaction.on_commit(lambda: tasks.pages_search_index.delay(ids))
        return self.report

    # --- loading what exists ---------------------------------------------------------------------

    def _preload(self) -> None:
        """Everything the import compares against, in a fixed number of queries."""
        self.agency_pages = {p.hsds_id: p for p in AgencyPage.objects.child_of(self.index)}
        self.index_slugs = set(Page.objects.child_of(self.index).values_list("slug", flat=True))
        # Children are selected by their page's place in the tree (a join, not a list of ids that
        # would outgrow SQLite's parameter limit).
        within = {"page__path__startswith": self.index.path}
        self.children: dict[tuple[type[models.Model], int], list[Any]] = defaultdict(list)
        for model in (Location, Phone, LocationHours):
            for obj in model._default_manager.filter(**within).order_by("sort_order", "pk"):
                self.children[(model, obj.page_id)].append(obj)
        self.location_rows = {
            obj.hsds_id: obj
            for (model, _), objs in self.children.items()
            if model is Location
            for obj in objs
        }
        self.location_home = {
            location.id: record.id
            for record in self.directory.organizations
            for location in record.locations
        }
        self.service_pages = {p.hsds_id: p for p in ServicePage.objects.descendant_of(self.index)}
        for model in (
            ServiceAtLocation,
            ServiceHours,
            CostOption,
            RequiredDocument,
            ServiceArea,
            ServicePhone,
        ):
            for obj in model._default_manager.filter(**within).order_by("sort_order", "pk"):
                self.children[(model, obj.page_id)].append(obj)
        self.m2m: dict[tuple[str, int], set[int]] = defaultdict(set)
        for page_id, category_id in ServicePage.categories.through.objects.filter(
            servicepage__path__startswith=self.index.path
        ).values_list("servicepage_id", "sdohcategory_id"):
            self.m2m[("categories", page_id)].add(category_id)
        for page_id, term_id in ServicePage.service_types.through.objects.filter(
            servicepage__path__startswith=self.index.path
        ).values_list("servicepage_id", "taxonomyterm_id"):
            self.m2m[("service_types", page_id)].add(term_id)
        self.sibling_slugs: dict[str, set[str]] = defaultdict(set)
        for page in self.service_pages.values():
            self.sibling_slugs[page.path[: -Page.steplen]].add(page.slug)
        organizations = list(
            Organization.objects.filter(network=self.network).values_list(
                "pk", "name", "slug", "listing"
            )
        )
        self.org_names = {name for _, name, _, _ in organizations}
        self.org_slugs = {slug for _, _, slug, _ in organizations}
        unlisted = {pk: name for pk, name, _, listing in organizations if listing is None}
        self.unlisted_by_name = {name: pk for pk, name in unlisted.items()}

    # --- buffered writes -------------------------------------------------------------------------

    def _flush(self) -> None:
        for model, pks in self.deletes.items():
            model._default_manager.filter(pk__in=pks).delete()
        for (model, fields), objs in self.updates.items():
            model._default_manager.bulk_update(objs, list(fields), batch_size=500)
        for model, objs in self.creates.items():
            model._default_manager.bulk_create(objs, batch_size=500)
        for model, rows in self.rows.items():
            rows_insert(model, rows)
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

    @staticmethod
    def _assign(obj: models.Model, values: dict[str, Any]) -> bool:
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
            elif self._assign(obj, values):
                self.updates[(model, tuple(sorted(values)))].append(obj)
                self.report.updated[kind] += 1
            else:
                self.report.unchanged[kind] += 1
            kept.append(obj)
        if current:
            self.deletes[model] += [obj.pk for obj in current.values()]
            self.report.deleted[kind] += len(current)
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

    # --- taxonomy --------------------------------------------------------------------------------

    def _service_types(self, records: list[TermRecord]) -> None:
        existing = {t.hsds_id: t for t in TaxonomyTerm.objects.filter(network=self.network)}
        for record in records:  # parents come first
            term = existing.get(record.id)
            values = {
                "code": record.code,
                "name": record.name,
                "description": record.description,
                "taxonomy": record.taxonomy,
                "parent": self.terms.get(record.parent_id) if record.parent_id else None,
            }
            created = term is None
            if term is None:
                term = TaxonomyTerm(network=self.network, hsds_id=record.id)
            changed = self._assign(term, values)
            if created or changed:
                term.full_clean()
                term.save()
            self._count("service type", created, changed)
            self.terms[record.id] = term
        self.terms.update({k: v for k, v in existing.items() if k not in self.terms})

    # --- agencies --------------------------------------------------------------------------------

    def _agencies(self, records: list[OrganizationRecord]) -> list[AgencyPage]:
        result: list[AgencyPage] = []
        new_pages: list[AgencyPage] = []
        new_organizations: list[Organization] = []
        for record in records:
            values = {
                "title": record.name,
                "alternate_name": record.alternate_name,
                "description": record.description,
                "website": record.website,
                "email": record.email,
                "tax_status": record.tax_status,
                "tax_id": record.tax_id,
                "year_incorporated": record.year_incorporated,
                "legal_status": record.legal_status,
            }
            page = self.agency_pages.get(record.id)
            if page is None:
                page = AgencyPage(
                    hsds_id=record.id,
                    slug=self._slug(record.name, self.index_slugs),
                    numchild=sum(s.id not in self.service_pages for s in record.services),
                    **values,
                )
                organization_id = self.unlisted_by_name.pop(record.name, None)
                if organization_id is None:
                    organization = self._organization_new(record)
                    new_organizations.append(organization)
                    page.organization = organization
                else:
                    page.organization_id = organization_id
                new_pages.append(page)
                self._count("agency", True, False)
            else:
                changed = self._assign(page, values)
                if changed:
                    page.draft_title = page.title
                    page.save()
                self._count("agency", False, changed)
            result.append(page)
        if new_organizations:
            Organization.objects.bulk_create(new_organizations, batch_size=500)
            self.report.created["organization"] += len(new_organizations)
        for page in new_pages:
            page.organization_id = page.organization.pk if page.organization else None
        self._pages_insert([(self.index, new_pages)])
        for page in new_pages:
            self.agency_pages[page.hsds_id] = page
        linked = [
            p.organization_id
            for p in new_pages
            if p.organization_id and p.organization not in new_organizations
        ]
        for organization in Organization.objects.filter(pk__in=linked).exclude(
            kind__in=[OrganizationKind.AGENCY, OrganizationKind.BOTH]
        ):
            network_services.organization_update(
                organization=organization, kind=OrganizationKind.BOTH
            )
        for record, page in zip(records, result, strict=True):
            self._claim_locations(page, record)
        located = [
            (
                page,
                record,
                self._sync(
                    "location",
                    Location,
                    page,
                    [{"page": page, **_location_values(loc)} for loc in record.locations],
                    key=_hsds_key,
                ),
            )
            for record, page in zip(records, result, strict=True)
        ]
        self._flush_model(Location)  # phones and services refer to these rows
        for page, record, locations in located:
            self._agency_phones(page, record, locations)
        for organization in Organization.objects.filter(pk__in=linked):
            listing_editors_sync(organization=organization)
        return result

    def _claim_locations(self, page: AgencyPage, record: OrganizationRecord) -> None:
        """Give this agency the stored locations the file says are its own.

        A location that moved to another organization is re-parented, not deleted and created
        again: deleting it would take the services' links to it along.
        """
        own = self.children.get((Location, page.pk), [])
        kept = [obj for obj in own if self.location_home.get(obj.hsds_id, record.id) == record.id]
        for location in record.locations:
            stored = self.location_rows.get(location.id)
            if stored is not None and stored.page_id != page.pk and stored not in kept:
                kept.append(stored)
        self.children[(Location, page.pk)] = kept

    def _organization_new(self, record: OrganizationRecord) -> Organization:
        name = record.name
        n = 2
        while name in self.org_names:  # two HSDS organizations may share a name
            name = f"{record.name[:190]} ({n})"
            n += 1
        self.org_names.add(name)
        slug = _unique_slug(name, self.org_slugs, 80)
        self.org_slugs.add(slug)
        return Organization(
            network=self.network,
            name=name,
            slug=slug,
            kind=OrganizationKind.AGENCY,
            description=record.description[:2000],
            email=record.email,
            website=record.website,
        )

    def _slug(self, name: str, taken: set[str]) -> str:
        slug = _unique_slug(name, taken, 200)
        taken.add(slug)
        return slug

    def _agency_phones(
        self, page: AgencyPage, record: OrganizationRecord, locations: list[Location]
    ) -> None:
        by_id = {loc.hsds_id: loc for loc in locations}
        self.locations.update(by_id)
        self.touched_locations += locations
        phones = [{**_phone_values(p), "location": None} for p in record.phones]
        for location_record in record.locations:
            phones += [
                {**_phone_values(p), "location": by_id[location_record.id]}
                for p in location_record.phones
            ]
        self._sync("phone", Phone, page, phones, key=_hsds_key)
        hours = [
            {
                "hsds_id": h.id,
                "location": by_id[loc.id],
                "weekday": h.weekday,
                "opens_at": h.opens_at,
                "closes_at": h.closes_at,
                "description": h.description,
            }
            for loc in record.locations
            for h in loc.hours
        ]
        self._sync("location hours", LocationHours, page, hours, key=_hours_key)

    def _flush_model(self, model: type[models.Model]) -> None:
        objs = self.creates.pop(model, [])
        if objs:
            model._default_manager.bulk_create(objs, batch_size=500)

    # --- services --------------------------------------------------------------------------------

    def _services(self, groups: list[tuple[AgencyPage, list[ServiceRecord]]]) -> None:
        inserts: list[tuple[Page, list[Any]]] = []
        pairs: list[tuple[ServicePage, ServiceRecord, bool]] = []
        for agency, records in groups:
            siblings = self.sibling_slugs[agency.path]
            new_pages: list[ServicePage] = []
            for record in records:
                values = _service_values(record)
                page = self.service_pages.get(record.id)
                if page is None:
                    page = ServicePage(
                        hsds_id=record.id, slug=self._slug(record.name, siblings), **values
                    )
                    new_pages.append(page)
                    self._count("service", True, False)
                    pairs.append((page, record, True))
                    continue
                changed = self._assign(page, values)
                if changed:
                    page.draft_title = page.title
                    page.save()
                if page.path[: -Page.steplen] != agency.path:  # its organization changed
                    page.move(agency, pos="last-child")
                    page.refresh_from_db()
                    changed = True
                changed |= self._relations_changed(page, record, new=False)
                self._count("service", False, changed)
                pairs.append((page, record, False))
            inserts.append((agency, new_pages))
        self._pages_insert(inserts)
        for page, record, new in pairs:
            if new:
                self.service_pages[page.hsds_id] = page
                self.rows[ServiceCapacity].append({"service": page})
                self._relations_changed(page, record, new=True)
            self._service_children(page, record)

    def _relations_changed(self, page: ServicePage, record: ServiceRecord, *, new: bool) -> bool:
        """Buffer category and service-type links; True if they differ from what is stored."""
        changed = False
        wanted = {
            "categories": (
                ServicePage.categories.through,
                "sdohcategory_id",
                {self.categories[code] for code in record.category_codes},
            ),
            "service_types": (
                ServicePage.service_types.through,
                "taxonomyterm_id",
                {self.terms[t].pk for t in record.service_type_ids},
            ),
        }
        for name, (through, column, ids) in wanted.items():
            if self.m2m.get((name, page.pk), set()) != ids:
                if not new:
                    through.objects.filter(servicepage_id=page.pk).delete()
                self.rows[through] += [
                    {"servicepage_id": page.pk, column: pk} for pk in sorted(ids)
                ]
                changed = True
        return changed

    def _service_children(self, page: ServicePage, record: ServiceRecord) -> None:
        self._sync(
            "service at location",
            ServiceAtLocation,
            page,
            [
                {
                    "hsds_id": s.id,
                    "location": self.locations[s.location_id],
                    "description": s.description,
                }
                for s in record.locations
            ],
            key=_hsds_key,
        )
        self._sync(
            "hours",
            ServiceHours,
            page,
            [
                {
                    "hsds_id": h.id,
                    "weekday": h.weekday,
                    "opens_at": h.opens_at,
                    "closes_at": h.closes_at,
                    "description": h.description,
                    "location": self.locations[h.location_id] if h.location_id else None,
                }
                for h in record.hours
            ],
            key=_hours_key,
        )
        self._sync(
            "cost option",
            CostOption,
            page,
            [
                {
                    "hsds_id": c.id,
                    "option": c.option,
                    "amount": c.amount,
                    "currency": c.currency,
                    "amount_description": c.amount_description,
                }
                for c in record.cost_options
            ],
            key=_hsds_key,
        )
        self._sync(
            "required document",
            RequiredDocument,
            page,
            [{"hsds_id": i, "document": d, "uri": u} for i, d, u in record.required_documents],
            key=_hsds_key,
        )
        self._sync(
            "service area",
            ServiceArea,
            page,
            [{"hsds_id": i, "name": n, "description": d} for i, n, d in record.service_areas],
            key=_hsds_key,
        )
        self._sync(
            "phone", ServicePhone, page, [_phone_values(p) for p in record.phones], key=_hsds_key
        )


def _service_values(record: ServiceRecord) -> dict[str, Any]:
    return {
        "title": record.name,
        "alternate_name": record.alternate_name,
        "description": record.description,
        "url": record.url,
        "email": record.email,
        "status": record.status,
        "languages": record.languages,
        "interpretation_services": record.interpretation_services,
        "eligibility_description": record.eligibility_description,
        "minimum_age": record.minimum_age,
        "maximum_age": record.maximum_age,
        "fee_type": record.fee_type,
        "fees_description": record.fees_description,
        "application_process": record.application_process,
        "wait_time": record.wait_time,
        "referral_method": record.referral_method,
        "alert": record.alert,
    }


def _hsds_key(obj: Any) -> Any:
    return obj["hsds_id"] if isinstance(obj, dict) else obj.hsds_id


def _hours_key(obj: Any) -> Any:
    """One HSDS schedule becomes a row per weekday: id and day together name a row."""
    return (obj["hsds_id"], obj["weekday"]) if isinstance(obj, dict) else (obj.hsds_id, obj.weekday)


def _location_values(record: LocationRecord) -> dict[str, Any]:
    values: dict[str, Any] = {
        "hsds_id": record.id,
        "name": record.name,
        "alternate_name": record.alternate_name,
        "description": record.description,
        "location_type": record.location_type,
        "address_1": record.address_1,
        "address_2": record.address_2,
        "city": record.city,
        "region": record.region,
        "state_province": record.state_province,
        "postal_code": record.postal_code,
        "country": record.country,
        "latitude": record.latitude,
        "longitude": record.longitude,
        "transportation": record.transportation,
        "accessibility": record.accessibility,
        "languages": record.languages,
    }
    if record.address_id is not None:
        values["address_hsds_id"] = record.address_id
    return values


def _phone_values(record: PhoneRecord) -> dict[str, Any]:
    return {
        "hsds_id": record.id,
        "number": record.number,
        "extension": record.extension,
        "type": record.type,
        "description": record.description,
    }


def _unique_slug(name: str, taken: Iterable[str], max_length: int) -> str:
    base = (slugify(name) or "listing")[: max_length - 4]
    used = set(taken)
    slug, n = base, 2
    while slug in used:
        slug, n = f"{base}-{n}", n + 1
    return slug


# --- geocoding --------------------------------------------------------------------------------


def _address_fingerprint(location: Location) -> str:
    text = f"{location.address_line}|{location.country}".casefold()
    return hashlib.sha256(text.encode()).hexdigest()


@transaction.atomic
def location_points_refresh(*, locations: Iterable[Location]) -> list[int]:
    """Bring each location's map point up to date; returns the ids queued for geocoding.

    Coordinates typed by an editor win; otherwise a changed address is geocoded by a task after
    the transaction commits. Locations without a street address are flagged, never put at 0,0.
    """
    locations = list(locations)
    points: dict[int, LocationPoint] = {}
    for start in range(0, len(locations), 2000):  # stay under SQLite's parameter limit
        batch = [loc.pk for loc in locations[start : start + 2000]]
        points.update((p.location_id, p) for p in LocationPoint.objects.filter(location__in=batch))
    to_create: list[LocationPoint] = []
    to_update: list[LocationPoint] = []
    queued: list[int] = []
    for location in locations:
        point = points.get(location.pk) or LocationPoint(location=location)
        fingerprint = _address_fingerprint(location)
        if location.latitude is not None and location.longitude is not None:
            values = {
                "latitude": float(location.latitude),
                "longitude": float(location.longitude),
                "status": GeocodeStatus.MANUAL,
                "address_fingerprint": fingerprint,
                "detail": "",
            }
        elif not (location.address_1 or location.postal_code):
            values = {
                "latitude": None,
                "longitude": None,
                "status": GeocodeStatus.FAILED,
                "address_fingerprint": fingerprint,
                "detail": "No address or coordinates to place it by.",
            }
        elif point.address_fingerprint != fingerprint or point.status in {
            GeocodeStatus.PENDING,
            GeocodeStatus.MANUAL,
        }:
            values = {
                "latitude": None,
                "longitude": None,
                "status": GeocodeStatus.PENDING,
                "address_fingerprint": fingerprint,
                "detail": "",
            }
            queued.append(location.pk)
        else:
            continue
        if point._state.adding:
            for name, value in values.items():
                setattr(point, name, value)
            to_create.append(point)
        elif _Importer._assign(point, values):
            to_update.append(point)
    LocationPoint.objects.bulk_create(to_create)
    LocationPoint.objects.bulk_update(
        to_update, ["latitude", "longitude", "status", "address_fingerprint", "detail"]
    )
    if queued:
        from . import tasks

        transaction.on_commit(lambda: [tasks.location_geocode.delay(pk) for pk in queued])
    return queued


def location_geocode(*, location_id: int) -> LocationPoint | None:
    """Place one location from its address (the geocoding task's work).

    Returns the point, or None if the location is gone or its address changed meanwhile.
    GeocodingUnavailable propagates so the task retries later.
    """
    location = Location.objects.filter(pk=location_id).first()
    if location is None:
        return None
    fingerprint = _address_fingerprint(location)
    result = geocode(location.address_line, country=location.country or "US")
    with transaction.atomic():
        point = LocationPoint.objects.select_for_update().filter(location=location).first()
        if point is None or point.address_fingerprint != fingerprint:
            return None  # a newer save queued its own task
        if point.status == GeocodeStatus.MANUAL:
            return point
        if result is None:
            point.latitude = point.longitude = None
            point.status = GeocodeStatus.FAILED
            point.detail = "The address could not be placed; check it or enter coordinates."
        else:
            point.latitude, point.longitude = result.latitude, result.longitude
            point.status = GeocodeStatus.PLACED
            point.detail = f"{result.provider} ({result.precision})"
        point.save()
        services_changed_send(
            ServiceAtLocation.objects.filter(location=location).values_list("page_id", flat=True)
        )
        return point


# --- capacity ---------------------------------------------------------------------------------


@transaction.atomic
def capacity_update(
    *, service: ServicePage, status: str, note: str = "", by: User
) -> ServiceCapacity:
    """Set a service's capacity now (no revision, no moderation); its agency's staff only."""
    agency = service.get_parent().specific
    organization = getattr(agency, "organization", None)
    network = page_network(page=service)
    allowed = (
        organization is not None and user_has_org_perm(by, OrgPerm.UPDATE_CAPACITY, organization)
    ) or (network is not None and user_has_network_perm(by, NetworkPerm.ADMINISTER, network))
    if not allowed:
        raise PermissionDenied(
            gettext("Only the agency's staff can change this service's capacity.")
        )
    if status not in CapacityStatus.values:
        raise ValidationError(
            {"status": gettext("Unknown capacity “%(status)s”.") % {"status": status}}
        )
    if len(note) > 300:
        raise ValidationError({"note": gettext("Keep the note under 300 characters.")})
    capacity, _ = ServiceCapacity.objects.select_for_update().get_or_create(service=service)
    capacity.status, capacity.note, capacity.updated_by = status, note, by
    capacity.save()
    services_changed_send([service.pk])
    return capacity


# --- editing and moderation --------------------------------------------------------------------

LISTING_EDITOR_PAGE_PERMISSIONS = ("add_page", "change_page")


def directory_workflow_ensure(*, network: Network, index: DirectoryIndexPage) -> Workflow:
    """The network's listing review: changes by agency editors wait for a network admin."""
    name = f"Listing review: {network.name}"[:255]
    workflow = Workflow.objects.filter(name=name).first()
    if workflow is None:
        workflow = Workflow.objects.create(name=name)
        task = GroupApprovalTask.objects.create(
            name=f"Network admin approval: {network.name}"[:255]
        )
        task.groups.set([network.admin_group])
        WorkflowTask.objects.create(workflow=workflow, task=task, sort_order=0)
    WorkflowPage.objects.update_or_create(page=index, defaults={"workflow": workflow})
    return workflow


@transaction.atomic
def listing_editors_sync(*, organization: Organization) -> None:
    """Put exactly the organization's listing editors (agency admins) in its listing's group."""
    page = AgencyPage.objects.filter(organization=organization).first()
    if page is None:
        return
    link = ListingEditorGroup.objects.filter(page=page).select_related("group").first()
    if link is None:
        group = network_services.page_editors_group_create(
            name=f"Listing editors: {organization.name} "
            f"({organization.network.slug}-{organization.pk})",
            page=page,
            permissions=LISTING_EDITOR_PAGE_PERMISSIONS,
        )
        link = ListingEditorGroup.objects.create(page=page, group=group)
    editors = organizations_users_with_perm(organization, OrgPerm.EDIT_LISTING)
    current = set(link.group.user_set.values_list("pk", flat=True))
    wanted = {user.pk for user in editors}
    if wanted - current:
        link.group.user_set.add(*(wanted - current))
    if current - wanted:
        link.group.user_set.remove(*(current - wanted))


# --- listing verification ----------------------------------------------------------------------

VERIFY_SALT = "handoff.listing-verify"
VERIFY_LINK_DAYS = 30
VERIFY_ASK_AGAIN_DAYS = 14


class VerificationLinkInvalid(Exception):
    """The link was altered, belongs to nothing or to another network's site, was already used
    (``gone``) or has expired (``gone``)."""

    def __init__(self, message: str, *, gone: bool = False) -> None:
        super().__init__(message)
        self.gone = gone


def verification_token_make(*, page: AgencyPage, user: User, now: datetime | None = None) -> str:
    """A signed, expiring token naming the listing, the person asked to confirm it and when it was
    issued (a confirmation after that instant uses it up)."""
    issued = (now or timezone.now()).timestamp()
    return signing.dumps({"p": page.pk, "u": user.pk, "t": issued}, salt=VERIFY_SALT, compress=True)


def verification_token_read(
    token: str, *, network: Network | None, lock: bool = False
) -> tuple[AgencyPage, User]:
    """The listing and person of a token, or VerificationLinkInvalid (with the reason).

    Valid only on ``network``'s own site, and only until the listing is next confirmed (by this
    link or any other way). ``lock`` holds the listing's verification row until the transaction
    ends, so that two clicks cannot both use one link.
    """
    try:
        data = signing.loads(token, salt=VERIFY_SALT, max_age=timedelta(days=VERIFY_LINK_DAYS))
    except signing.SignatureExpired as exc:
        raise VerificationLinkInvalid(gettext("This link has expired."), gone=True) from exc
    except signing.BadSignature as exc:
        raise VerificationLinkInvalid(gettext("This link is not valid.")) from exc
    issued = data.get("t") if isinstance(data, dict) else None
    if not isinstance(issued, int | float):
        raise VerificationLinkInvalid(gettext("This link is not valid."))
    page = AgencyPage.objects.filter(pk=data.get("p")).select_related("organization").first()
    user = User.objects.filter(pk=data.get("u"), is_active=True).first()
    if page is None or user is None or page.organization is None:
        raise VerificationLinkInvalid(gettext("This listing or account no longer exists."))
    if network is None or page.organization.network_id != network.pk:
        # Another network's site: as if the listing did not exist here.
        raise VerificationLinkInvalid(gettext("This link is not valid."))
    if not user_has_org_perm(user, OrgPerm.EDIT_LISTING, page.organization):
        raise VerificationLinkInvalid(gettext("You no longer edit this listing."))
    verifications = ListingVerification.objects.filter(page_id=page.pk)
    if lock:
        verifications = verifications.select_for_update()
    last_verified_at = verifications.values_list("last_verified_at", flat=True).first()
    if last_verified_at is not None and last_verified_at.timestamp() >= issued:
        raise VerificationLinkInvalid(
            gettext("This link was already used: the listing has been confirmed since."), gone=True
        )
    return page, user


@transaction.atomic
def listing_confirm_by_link(
    *, token: str, network: Network | None, now: datetime | None = None
) -> AgencyPage:
    """Confirm the listing a verification link names, using the link up; returns the listing.

    Raises VerificationLinkInvalid as ``verification_token_read`` does (a second use included).
    """
    page, user = verification_token_read(token, network=network, lock=True)
    listing_confirm(page=page, by=user, now=now)
    return page


@transaction.atomic
def listing_confirm(*, page: AgencyPage, by: User, now: datetime | None = None) -> int:
    """Record that the agency listing and all its services are current; returns pages touched."""
    now = now or timezone.now()
    pages = [page.pk, *ServicePage.objects.child_of(page).values_list("pk", flat=True)]
    existing = set(
        ListingVerification.objects.filter(page_id__in=pages).values_list("page_id", flat=True)
    )
    ListingVerification.objects.filter(page_id__in=existing).update(
        last_verified_at=now, verified_by=by
    )
    ListingVerification.objects.bulk_create(
        ListingVerification(page_id=pk, last_verified_at=now, verified_by=by)
        for pk in pages
        if pk not in existing
    )
    services_changed_send(pages[1:])
    return len(pages)


@transaction.atomic
def listings_verification_request(*, network: Network, now: datetime) -> list[tuple[int, int]]:
    """Ask the editors of agencies with stale listings to confirm them (at most every 14 days).

    Returns the (agency page id, user id) pairs that will be emailed after commit.
    """
    from .selectors import listings_stale

    stale = listings_stale(network=network, now=now)
    agency_paths = {p.path[: AgencyPage.steplen * 4] for p in stale}
    agencies = AgencyPage.objects.filter(
        path__in=agency_paths, organization__isnull=False
    ).select_related("organization")
    ask_again = now - timedelta(days=VERIFY_ASK_AGAIN_DAYS)
    requests: list[tuple[int, int]] = []
    for agency in agencies:
        verification, _ = ListingVerification.objects.get_or_create(page=agency)
        if verification.last_requested_at and verification.last_requested_at > ask_again:
            continue
        organization = agency.organization
        if organization is None:  # excluded by the query; keeps the type checker informed
            continue
        editors = organizations_users_with_perm(organization, OrgPerm.EDIT_LISTING)
        recipients = [user.pk for user in editors if user.email]
        if not recipients:
            continue
        verification.last_requested_at = now
        verification.save(update_fields=["last_requested_at"])
        requests += [(agency.pk, user_id) for user_id in recipients]
    if requests:
        from . import tasks

        transaction.on_commit(
            lambda: [tasks.listing_verification_send.delay(p, u) for p, u in requests]
        )
    return requests


# --- uploads from the admin ---------------------------------------------------------------------

IMPORT_SUFFIXES = (".zip", ".json", ".ndjson")


def import_progress_key(import_id: int) -> str:
    return f"handoff:directory-import:{import_id}:progress"


class ImportRunning(ValidationError):
    """Another import into the same network is queued or running."""


def directory_import_unfinished(*, network: Network, now: datetime) -> DirectoryImport | None:
    """The network's import still queued or running, if any (one stuck for longer than
    ``HSDS_IMPORT_STALE_MINUTES`` no longer counts: its worker died)."""
    since = now - timedelta(minutes=settings.HSDS_IMPORT_STALE_MINUTES)
    return (
        DirectoryImport.objects.filter(
            network=network,
            status__in=[DirectoryImportStatus.QUEUED, DirectoryImportStatus.RUNNING],
            created_at__gte=since,
        )
        .order_by("-created_at")
        .first()
    )


def _upload_zip_check(upload: UploadedFile, name: str) -> None:
    """Refuse a zip upload at once when its central directory lists too much."""
    try:
        with zipfile.ZipFile(upload) as archive:
            zip_check(archive, name=name)
    except zipfile.BadZipFile as exc:
        raise ValidationError({"upload": gettext("The file is not a readable zip.")}) from exc
    except ReadError as exc:
        raise ValidationError({"upload": str(exc)}) from exc
    finally:
        upload.seek(0)


@transaction.atomic
def directory_import_start(*, network: Network, upload: UploadedFile, by: User) -> DirectoryImport:
    """Store an uploaded HSDS file and queue its import; the task runs after commit.
    ImportRunning while another import into the network is unfinished, ValidationError for a
    file of the wrong kind or size."""
    if not user_has_network_perm(by, NetworkPerm.ADMINISTER, network):
        raise PermissionDenied(gettext("Only the network's admins can import its directory."))
    name = upload.name or "upload"
    if not name.lower().endswith(IMPORT_SUFFIXES):
        raise ValidationError(
            {"upload": gettext("Upload a .zip Tabular Data Package or a .json file.")}
        )
    if upload.size is None or upload.size > MAX_FILE_BYTES:
        raise ValidationError(
            {
                "upload": gettext("The file is larger than %(size)s MB; split it.")
                % {"size": MAX_FILE_BYTES // 1024 // 1024}
            }
        )
    if name.lower().endswith(".zip"):
        _upload_zip_check(upload, name)
    # One import per network at a time: the network row is the lock, held until commit.
    Network.objects.select_for_update().filter(pk=network.pk).first()
    running = directory_import_unfinished(network=network, now=timezone.now())
    if running is not None:
        raise ImportRunning(
            {
                "upload": gettext(
                    "An import into %(network)s is still running (%(file)s, uploaded at "
                    "%(at)s); wait until it has finished, then upload again."
                )
                % {
                    "network": network.name,
                    "file": running.original_name,
                    "at": timezone.localtime(running.created_at).strftime("%H:%M"),
                }
            }
        )
    job = DirectoryImport.objects.create(
        network=network, uploaded_by=by, upload=upload, original_name=name[:255]
    )
    from . import tasks

    transaction.on_commit(lambda: tasks.directory_import_run.delay(job.pk))
    return job


def directory_import_run(*, import_id: int) -> DirectoryImport:
    """Run a queued upload (the task's work): record the report, or every problem found."""
    job = DirectoryImport.objects.select_related("network").get(pk=import_id)
    claimed = DirectoryImport.objects.filter(pk=job.pk, status=DirectoryImportStatus.QUEUED).update(
        status=DirectoryImportStatus.RUNNING
    )
    if not claimed:  # a task delivered twice: the first delivery runs (or ran) it
        return job
    key = import_progress_key(job.pk)

    def progress(done: int, total: int) -> None:
        cache.set(key, (done, total), 3600)

    suffix = Path(job.original_name).suffix.lower()
    try:
        with tempfile.TemporaryDirectory() as folder:
            local = Path(folder) / f"upload{suffix}"
            with job.upload.open("rb") as source, local.open("wb") as target:
                shutil.copyfileobj(source, target)
            report = directory_import(network=job.network, dataset=read(local), progress=progress)
    except (ReadError, InvalidImport) as exc:
        problems = [str(p) for p in exc.problems] if isinstance(exc, InvalidImport) else [str(exc)]
        warnings = [str(w) for w in exc.warnings] if isinstance(exc, InvalidImport) else []
        job.status, job.problems, job.warnings = DirectoryImportStatus.FAILED, problems, warnings
        job.summary = f"{len(problems)} problem(s) found; nothing was imported."
    except BaseException:
        # Whatever stopped it, the job is over: the next upload into the network may run.
        DirectoryImport.objects.filter(pk=job.pk).update(
            status=DirectoryImportStatus.FAILED,
            summary="The import stopped on an unexpected error; nothing was imported.",
            finished_at=timezone.now(),
        )
        raise
    else:
        job.status = DirectoryImportStatus.DONE
        job.summary = report.summary() if report.changed else "Nothing changed."
        job.warnings = [str(w) for w in report.warnings]
    job.finished_at = timezone.now()
    job.save(update_fields=["status", "summary", "problems", "warnings", "finished_at"])
    return job


# --- suggestions from agencies -----------------------------------------------------------------


@transaction.atomic
def listing_suggestion_create(
    *, page: Page, organization: Organization, by: User, text: str, field_name: str = ""
) -> ListingSuggestion:
    """Ask the network's admins to change one of ``organization``'s listing pages (its agency
    page or one of its services); for the agency's staff only. ValidationError for bad input."""

    listing = AgencyPage.objects.filter(organization=organization).first()
    own_page = listing is not None and (
        page.pk == listing.pk
        or (page.path.startswith(listing.path) and page.depth == listing.depth + 1)
    )
    if not own_page or not user_has_org_perm(by, OrgPerm.UPDATE_CAPACITY, organization):
        raise PermissionDenied(gettext("You can only suggest changes to your agency's listing."))
    text = text.strip()
    errors: dict[str, str] = {}
    if not text:
        errors["text"] = gettext("Say what should change.")
    elif len(text) > SUGGESTION_MAX_LENGTH:
        errors["text"] = gettext("Keep the suggestion under 5,000 characters.")
    if field_name and field_name not in ListingField.values:
        errors["field_name"] = gettext("Choose a part of the listing from the list.")
    if errors:
        raise ValidationError(errors)
    return ListingSuggestion.objects.create(
        page=page,
        network_id=organization.network_id,
        organization=organization,
        suggested_by=by,
        field_name=field_name,
        text=text,
    )


@transaction.atomic
def listing_suggestion_resolve(
    *, suggestion: ListingSuggestion, status: str, by: User, now: datetime | None = None
) -> ListingSuggestion:
    """Mark a suggestion applied or dismissed (or open again); its network's admins only."""
    if not user_has_network_perm(by, NetworkPerm.ADMINISTER, suggestion.network):
        raise PermissionDenied(
            gettext("Only the network's admins can resolve listing suggestions.")
        )
    if status not in SuggestionStatus.values:
        raise ValidationError(
            {"status": gettext("Unknown status “%(status)s”.") % {"status": status}}
        )
    suggestion.status = status
    if status == SuggestionStatus.OPEN:
        suggestion.resolved_by, suggestion.resolved_at = None, None
    else:
        suggestion.resolved_by, suggestion.resolved_at = by, now or timezone.now()
    suggestion.save(update_fields=["status", "resolved_by", "resolved_at"])
    return suggestion
