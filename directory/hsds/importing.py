"""Importing a checked HSDS dataset into a network's directory: upserts by HSDS id, in bulk."""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Callable
from collections.abc import Set as AbstractSet
from typing import Any

from django.db import transaction
from django.utils.text import slugify
from wagtail.models import Page

from cms.bulk import gc_paused, statistics_refresh
from network import services as network_services
from network.models import Network, Organization, OrganizationKind

from .. import followup_tasks
from ..changes import services_changed_send
from ..models import (
    AgencyPage,
    CostOption,
    Location,
    LocationHours,
    Phone,
    RequiredDocument,
    SdohCategory,
    ServiceArea,
    ServiceAtLocation,
    ServiceCapacity,
    ServiceHours,
    ServicePage,
    ServicePhone,
    TaxonomyTerm,
)
from ..services import directory_index_for, listing_editors_sync, location_points_refresh
from .building import build
from .import_writes import ImportReport, ImportWrites, values_assign
from .reading import Dataset, Problem
from .records import (
    Directory,
    LocationRecord,
    OrganizationRecord,
    PhoneRecord,
    ServiceRecord,
    TermRecord,
)

Progress = Callable[[int, int], None]


@gc_paused()
def directory_import(
    *,
    network: Network,
    dataset: Dataset,
    progress: Progress | None = None,
    skip_invalid: bool = False,
    directory: Directory | None = None,
) -> ImportReport:
    """Upsert a whole HSDS dataset into ``network``'s directory, by HSDS id, in one transaction.

    Strict (the default): raises InvalidImport (listing every problem, nothing written) if the
    input has errors. ``skip_invalid``: imports every valid record and leaves out the rest
    (``directory.hsds.building`` says what and why). Either way the report's ``findings`` say
    what was repaired and what was skipped. Re-importing the same data changes nothing.
    ``directory``, when the caller has already built (and so checked) ``dataset``, is imported
    as it is instead of building it again.
    """
    if directory is None:
        directory = build(dataset, skip_invalid=skip_invalid)
    with transaction.atomic():
        # One writer per network at a time, whoever calls (the command, an upload, a feed):
        # two imports placing new pages under the same parent would compute the same tree paths.
        Network.objects.select_for_update().filter(pk=network.pk).first()
        return _Importer(network, directory, progress).run()


IMPORT_CHUNK = 200  # organizations per batch of bulk writes


class _Importer(ImportWrites):
    """Applies a checked Directory: bulk inserts for what is new, targeted updates otherwise.

    New pages skip Wagtail's per-page save (and its per-save signals): their tree paths are
    computed here and rows are inserted in bulk, which is what makes large imports fast. Pages
    that change go through ``Page.save``.
    """

    def __init__(self, network: Network, directory: Directory, progress: Progress | None) -> None:
        super().__init__(
            ImportReport(warnings=list(directory.warnings), findings=list(directory.findings))
        )
        self.skipped_ids = directory.skipped_ids
        self.network = network
        self.directory = directory
        self.progress = progress or (lambda done, total: None)
        self.categories = {c.code: c.pk for c in SdohCategory.objects.all()}
        self.terms: dict[uuid.UUID, TaxonomyTerm] = {}
        self.locations: dict[uuid.UUID, Location] = {}
        self.touched_locations: list[Location] = []

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
        # The documents below read back what was written: with statistics that count it.
        statistics_refresh(self.inserted)
        if self.report.changed:
            services_changed_send(page.pk for page in self.service_pages.values())
        if self.new_page_ids:
            ids = list(self.new_page_ids)
            transaction.on_commit(lambda: followup_tasks.pages_search_index.delay(ids))
        return self.report

    # --- loading what exists ---------------------------------------------------------------------

    def _preload(self) -> None:
        """Everything the import compares against, in a fixed number of queries."""
        self.agency_pages = {p.hsds_id: p for p in AgencyPage.objects.child_of(self.index)}
        self.index_slugs = set(Page.objects.child_of(self.index).values_list("slug", flat=True))
        # Children are selected by their page's place in the tree (a join, not a list of ids that
        # would outgrow SQLite's parameter limit).
        within = {"page__path__startswith": self.index.path}
        self.children = defaultdict(list)
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
                "hsds_extra": record.extra,
            }
            created = term is None
            if term is None:
                term = TaxonomyTerm(network=self.network, hsds_id=record.id)
            changed = values_assign(term, values)
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
            values: dict[str, Any] = {
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
            values["hsds_extra"] = _extra(page, record.extra)
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
                changed = values_assign(page, values)
                if changed:
                    page.draft_title = page.title
                    page.save()
                self._count("agency", False, changed)
            result.append(page)
        if new_organizations:
            Organization.objects.bulk_create(new_organizations, batch_size=500)
            self.report.created["organization"] += len(new_organizations)
        for page in new_pages:
            if page.organization_id is None:  # its new organization, saved above (cached: no query)
                page.organization = page.organization
        self._pages_insert([(self.index, new_pages)])
        for page in new_pages:
            self.agency_pages[page.hsds_id] = page
        created = {organization.pk for organization in new_organizations}
        linked = [
            p.organization_id
            for p in new_pages
            if p.organization_id and p.organization_id not in created
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
                    [
                        {
                            "page": page,
                            **_location_values(loc),
                            "hsds_extra": _extra(self.location_rows.get(loc.id), loc.extra),
                        }
                        for loc in record.locations
                    ],
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
        name = record.name[:200]  # network.Organization.name holds 200; the page keeps it all
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

    # --- services --------------------------------------------------------------------------------

    def _services(self, groups: list[tuple[AgencyPage, list[ServiceRecord]]]) -> None:
        inserts: list[tuple[Page, list[Any]]] = []
        pairs: list[tuple[ServicePage, ServiceRecord, bool]] = []
        for agency, records in groups:
            siblings = self.sibling_slugs[agency.path]
            new_pages: list[ServicePage] = []
            for record in records:
                page = self.service_pages.get(record.id)
                values = {**_service_values(record), "hsds_extra": _extra(page, record.extra)}
                if page is None:
                    page = ServicePage(
                        hsds_id=record.id, slug=self._slug(record.name, siblings), **values
                    )
                    new_pages.append(page)
                    self._count("service", True, False)
                    pairs.append((page, record, True))
                    continue
                changed = values_assign(page, values)
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


def _extra(stored: Any, extra: dict[str, Any]) -> dict[str, Any]:
    """The ``hsds_extra`` to store: the file's, plus Handoff's own ``x_`` keys it does not set."""
    kept = getattr(stored, "hsds_extra", None) or {}
    own = {k: v for k, v in kept.items() if k.startswith("x_") and k not in extra}
    return {**extra, **own} if own else dict(extra)


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
    if record.address_confidential is not None:
        values["address_confidential"] = record.address_confidential
    if record.address_confidential and record.address_id is None and not record.latitude:
        # A package exported by Handoff leaves a confidential address out: keep the one on file.
        for name in (*_ADDRESS_FIELDS, "latitude", "longitude"):
            values.pop(name)
    return values


_ADDRESS_FIELDS = ("address_1", "address_2", "city", "region", "state_province", "postal_code")


def _phone_values(record: PhoneRecord) -> dict[str, Any]:
    return {
        "hsds_id": record.id,
        "number": record.number,
        "extension": record.extension,
        "type": record.type,
        "description": record.description,
    }


def _unique_slug(name: str, taken: AbstractSet[str], max_length: int) -> str:
    # ``taken`` is looked into, never copied: an import of thousands of agencies asks once each.
    base = (slugify(name) or "listing")[: max_length - 4]
    slug, n = base, 2
    while slug in taken:
        slug, n = f"{base}-{n}", n + 1
    return slug
