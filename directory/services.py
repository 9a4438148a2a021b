"""Every write to the directory. The HSDS importer and ``seed_demo`` both build listings here."""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.db import models, transaction
from django.utils.text import slugify

from network import services as network_services
from network.models import Network, Organization, OrganizationKind

from .hsds.reading import Dataset, Problem
from .hsds.records import (
    Directory,
    InvalidImport,
    LocationRecord,
    OrganizationRecord,
    PhoneRecord,
    ServiceRecord,
    TermRecord,
    build,
)
from .models import (
    AgencyPage,
    CostOption,
    DirectoryIndexPage,
    Location,
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

Progress = Callable[[int, int], None]

__all__ = ["ImportReport", "InvalidImport", "directory_import", "directory_index_for"]


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


class _Importer:
    def __init__(self, network: Network, directory: Directory, progress: Progress | None) -> None:
        self.network = network
        self.directory = directory
        self.progress = progress or (lambda done, total: None)
        self.report = ImportReport(warnings=list(directory.warnings))
        self.categories = {c.code: c for c in SdohCategory.objects.all()}
        self.terms: dict[uuid.UUID, TaxonomyTerm] = {}
        self.locations: dict[uuid.UUID, Location] = {}

    def run(self) -> ImportReport:
        self.index = directory_index_for(self.network)
        self._service_types(self.directory.service_types)
        agencies = {p.hsds_id: p for p in AgencyPage.objects.child_of(self.index)}
        total, done = self.directory.service_count, 0
        for record in self.directory.organizations:
            agency = self._agency(record, agencies.get(record.id))
            for service_record in record.services:
                self._service(agency, service_record)
                done += 1
                if done % 50 == 0 or done == total:
                    self.progress(done, total)
        return self.report

    # --- small helpers ------------------------------------------------------------------------

    def _count(self, kind: str, created: bool, changed: bool) -> None:
        if created:
            self.report.created[kind] += 1
        elif changed:
            self.report.updated[kind] += 1
        else:
            self.report.unchanged[kind] += 1

    @staticmethod
    def _assign(obj: models.Model, values: dict[str, Any]) -> bool:
        changed = False
        for name, value in values.items():
            if getattr(obj, name) != value:
                setattr(obj, name, value)
                changed = True
        return changed

    def _sync(
        self,
        kind: str,
        model: type[models.Model],
        existing: Iterable[Any],
        wanted: Sequence[dict[str, Any]],
        key: Callable[[dict[str, Any]], Any],
        existing_key: Callable[[Any], Any],
        **parent: Any,
    ) -> list[Any]:
        """Make the child rows of one parent equal ``wanted``: update, create, delete by key."""
        current = {existing_key(obj): obj for obj in existing}
        kept, to_create, to_update = [], [], []
        fields: set[str] = set()
        for order, values in enumerate(wanted):
            values = {**values, "sort_order": order}
            obj = current.pop(key(values), None)
            if obj is None:
                obj = model(**parent, **values)
                to_create.append(obj)
            elif self._assign(obj, values):
                to_update.append(obj)
                fields |= set(values)
            else:
                self.report.unchanged[kind] += 1
            kept.append(obj)
        if to_create:
            model._default_manager.bulk_create(to_create)
            self.report.created[kind] += len(to_create)
        if to_update:
            model._default_manager.bulk_update(to_update, sorted(fields))
            self.report.updated[kind] += len(to_update)
        if current:
            model._default_manager.filter(pk__in=[o.pk for o in current.values()]).delete()
            self.report.deleted[kind] += len(current)
        return kept

    # --- taxonomy ------------------------------------------------------------------------------

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

    # --- agencies ------------------------------------------------------------------------------

    def _organization_for(self, record: OrganizationRecord) -> Organization:
        organization = Organization.objects.filter(
            network=self.network, name=record.name, listing__isnull=True
        ).first()
        if organization is None:
            slug = _unique_slug(
                record.name,
                Organization.objects.filter(network=self.network).values_list("slug", flat=True),
                80,
            )
            organization = network_services.organization_create(
                network=self.network,
                name=record.name,
                slug=slug,
                kind=OrganizationKind.AGENCY,
                description=record.description[:2000],
                email=record.email,
                website=record.website,
            )
            self.report.created["organization"] += 1
        elif not organization.receives_referrals:
            network_services.organization_update(
                organization=organization, kind=OrganizationKind.BOTH
            )
        return organization

    def _agency(self, record: OrganizationRecord, page: AgencyPage | None) -> AgencyPage:
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
        created = page is None
        if page is None:
            siblings = AgencyPage.objects.child_of(self.index).values_list("slug", flat=True)
            page = AgencyPage(
                hsds_id=record.id,
                slug=_unique_slug(record.name, siblings, 200),
                organization=self._organization_for(record),
                **values,
            )
            self.index.add_child(instance=page)
            changed = True
        else:
            changed = self._assign(page, values)
            if changed:
                page.draft_title = page.title
                page.save()
        self._count("agency", created, changed)
        self._agency_children(page, record)
        return page

    def _agency_children(self, page: AgencyPage, record: OrganizationRecord) -> None:
        locations = self._sync(
            "location",
            Location,
            page.locations.all(),
            [_location_values(loc) for loc in record.locations],
            key=lambda v: v["hsds_id"],
            existing_key=lambda o: o.hsds_id,
            page=page,
        )
        by_id = {loc.hsds_id: loc for loc in locations}
        self.locations.update(by_id)
        phones = [{**_phone_values(p), "location": None} for p in record.phones]
        for location_record in record.locations:
            phones += [
                {**_phone_values(p), "location": by_id[location_record.id]}
                for p in location_record.phones
            ]
        self._sync(
            "phone",
            Phone,
            page.phones.all(),
            phones,
            key=lambda v: v["hsds_id"],
            existing_key=lambda o: o.hsds_id,
            page=page,
        )

    # --- services ------------------------------------------------------------------------------

    def _service(self, agency: AgencyPage, record: ServiceRecord) -> None:
        page = ServicePage.objects.child_of(agency).filter(hsds_id=record.id).first()
        values = {
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
        created = page is None
        if page is None:
            siblings = ServicePage.objects.child_of(agency).values_list("slug", flat=True)
            page = ServicePage(
                hsds_id=record.id, slug=_unique_slug(record.name, siblings, 200), **values
            )
            agency.add_child(instance=page)
            ServiceCapacity.objects.create(service=page)
            changed = True
        else:
            changed = self._assign(page, values)
            if changed:
                page.draft_title = page.title
                page.save()
        changed |= self._service_relations(page, record)
        self._count("service", created, changed)
        self._service_children(page, record)

    def _service_relations(self, page: ServicePage, record: ServiceRecord) -> bool:
        changed = False
        categories = {self.categories[code].pk for code in record.category_codes}
        if set(page.categories.values_list("pk", flat=True)) != categories:
            ServicePage.categories.through.objects.filter(servicepage=page).delete()
            ServicePage.categories.through.objects.bulk_create(
                ServicePage.categories.through(servicepage=page, sdohcategory_id=pk)
                for pk in categories
            )
            changed = True
        types = {self.terms[t].pk for t in record.service_type_ids}
        if set(page.service_types.values_list("pk", flat=True)) != types:
            ServicePage.service_types.through.objects.filter(servicepage=page).delete()
            ServicePage.service_types.through.objects.bulk_create(
                ServicePage.service_types.through(servicepage=page, taxonomyterm_id=pk)
                for pk in types
            )
            changed = True
        return changed

    def _service_children(self, page: ServicePage, record: ServiceRecord) -> None:
        self._sync(
            "service at location",
            ServiceAtLocation,
            page.service_locations.all(),
            [
                {
                    "hsds_id": s.id,
                    "location": self.locations[s.location_id],
                    "description": s.description,
                }
                for s in record.locations
            ],
            key=lambda v: v["hsds_id"],
            existing_key=lambda o: o.hsds_id,
            page=page,
        )
        self._sync(
            "hours",
            ServiceHours,
            page.hours.all(),
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
            key=lambda v: (v["hsds_id"], v["weekday"]),
            existing_key=lambda o: (o.hsds_id, o.weekday),
            page=page,
        )
        self._sync(
            "cost option",
            CostOption,
            page.cost_options.all(),
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
            key=lambda v: v["hsds_id"],
            existing_key=lambda o: o.hsds_id,
            page=page,
        )
        self._sync(
            "required document",
            RequiredDocument,
            page.required_documents.all(),
            [{"hsds_id": i, "document": d, "uri": u} for i, d, u in record.required_documents],
            key=lambda v: v["hsds_id"],
            existing_key=lambda o: o.hsds_id,
            page=page,
        )
        self._sync(
            "service area",
            ServiceArea,
            page.service_areas.all(),
            [{"hsds_id": i, "name": n, "description": d} for i, n, d in record.service_areas],
            key=lambda v: v["hsds_id"],
            existing_key=lambda o: o.hsds_id,
            page=page,
        )
        self._sync(
            "phone",
            ServicePhone,
            page.phones.all(),
            [_phone_values(p) for p in record.phones],
            key=lambda v: v["hsds_id"],
            existing_key=lambda o: o.hsds_id,
            page=page,
        )


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
