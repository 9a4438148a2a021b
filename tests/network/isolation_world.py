"""The cast of the isolation walk: network A (whose people walk every URL), a second clinic in A
whose client data they must not see, and network B, which owns one object of every kind.

Each foreign party is an ``Owner``: the rows created while its objects were built (found by
comparing every table before and after, so a new model's rows are picked up without editing this
file) and the marker strings its objects carry (``BRAVO-MARK-<kind>``, ``ALPHA2-MARK-<kind>``).
A page of A that shows a marker shows something of theirs.

To cover a new kind of object: create one in ``bravo_build`` (through its service when it has
one) with ``mark("<kind>")`` in its distinctive text. Its rows are registered automatically; if
its URL names it with a parameter the walk cannot map to a model, add a rule to ``PARAM_MODELS``
or ``ROUTE_MODELS`` in isolation_targets.py.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from django.apps import apps
from django.contrib.contenttypes.models import ContentType
from django.core.files.base import ContentFile
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import models
from django.utils import timezone
from wagtail.admin.models import EditingSession
from wagtail.contrib.redirects.models import Redirect
from wagtail.documents import get_document_model
from wagtail.images import get_image_model
from wagtail.models import (
    Collection,
    CollectionViewRestriction,
    Page,
    PageViewRestriction,
    UploadedFile,
)

from consent import services as consent_services
from consent.models import ConsentMethod
from directory import services as directory_services
from directory import verification_links
from directory.models import (
    AgencyPage,
    DirectoryImport,
    FeedRun,
    FeedRunStatus,
    HsdsFeed,
    ServicePage,
    TaxonomyTerm,
)
from network import services, smart
from network.models import ApiClientRole, Network, Organization, Role, User
from referrals.models import Client
from referrals.services.clients import client_create, screening_record
from referrals.services.sending import referral_send
from referrals.services.transitions import referral_message, referral_transition
from tests.network.factories import Tenant, UserFactory, organization_make, tenant_make
from tests.referrals.factories import Loop, loop_make
from tests.referrals.fhir.support import key_pair

Rows = dict[type[models.Model], set[Any]]


def rows_snapshot() -> Rows:
    """Every primary key of every table (concrete models only)."""
    snapshot: Rows = {}
    for model in apps.get_models():
        if model._meta.proxy or not model._meta.managed:
            continue
        snapshot[model] = set(model._default_manager.values_list("pk", flat=True))
    return snapshot


def rows_new(before: Rows, after: Rows) -> Rows:
    return {
        model: pks - before.get(model, set())
        for model, pks in after.items()
        if pks - before.get(model, set())
    }


@dataclass
class Owner:
    """A party whose objects the walkers must not reach."""

    label: str
    markers: list[str]
    rows: Rows = field(default_factory=dict)
    extra: dict[str, list[str]] = field(default_factory=dict)  # values rows cannot give (tokens)

    def pks(self, model: type[models.Model]) -> list[Any]:
        """This owner's rows of ``model`` (a parent model includes its children's rows)."""
        found = set(self.rows.get(model, set()))
        return sorted(found, key=str)

    def objects(self, model: type[models.Model]) -> list[models.Model]:
        return list(model._default_manager.filter(pk__in=self.pks(model)).order_by("pk"))

    def labels(self, tables: set[str]) -> set[str]:
        """The labels of this owner's models stored in ``tables``."""
        return {model._meta.label for model in self.rows if model._meta.db_table in tables}

    def fingerprint(self, tables: set[str] | None = None) -> dict[str, list[tuple[Any, ...]]]:
        """Every stored value of the owner's rows (of the models stored in ``tables`` only, when
        given): equal before and after means untouched."""
        return {
            model._meta.label: list(
                model._default_manager.filter(pk__in=pks).order_by("pk").values_list()
            )
            for model, pks in self.rows.items()
            if tables is None or model._meta.db_table in tables
        }


@dataclass
class World:
    alpha: Tenant
    alpha_loop: Loop
    alpha_host: str
    outsider: User
    bravo: Owner
    alpha_second: Owner
    walkers: dict[str, User | None] = field(default_factory=dict)


def _marked(prefix: str) -> Callable[[str], str]:
    def mark(kind: str) -> str:
        return f"{prefix}-MARK-{kind}"

    return mark


def network_mark(network: Network, name: str) -> None:
    """Puts a marker in every name a network shows: its own, its site's, home page's,
    collection's and admin group's (set once, before its directory is built)."""
    old = network.name
    Network.objects.filter(pk=network.pk).update(name=name)
    network.refresh_from_db()
    site = network.site
    site.site_name = name
    site.save()
    home = site.root_page.specific
    home.title = name
    home.save()
    Collection.objects.filter(name=old).update(name=name)
    group = network.admin_group
    group.name = f"{name} admins"
    group.save()


def _png() -> bytes:
    from PIL import Image as PILImage

    buffer = io.BytesIO()
    PILImage.new("RGB", (4, 4), (200, 10, 10)).save(buffer, "PNG")
    return buffer.getvalue()


def client_data_build(
    *,
    mark: Callable[[str], str],
    clinic: Organization,
    staff: User,
    service: ServicePage,
    agency_user: User,
    agency: Organization,
) -> None:
    """A client with a screening, two consents (one with a signed form), a referral with a note,
    messages both ways and an acceptance with a reason: everything a clinic holds about someone."""
    client = client_create(
        organization=clinic,
        by=staff,
        first_name=mark("client"),
        last_name=mark("clientlast"),
        date_of_birth=timezone.localdate() - timedelta(days=365 * 40),
        phone="707-555-0199",
        email="client@example.org",
        address_1=mark("address"),
        city="Eureka",
        confirm_new=True,
    )
    screening_record(client=client, by=staff, organization=clinic, answers={})
    now = timezone.now()
    consent = consent_services.consent_record(
        client=client,
        by=staff,
        organization=clinic,
        categories=["food-insecurity", "housing-instability"],
        method=ConsentMethod.SIGNED_FORM,
        signed_form=SimpleUploadedFile(
            "signed consent.pdf", f"%PDF-1.4 {mark('consent-file')}".encode(), "application/pdf"
        ),
        whole_network=True,
        granted_at=now - timedelta(days=30),
        expires_at=now + timedelta(days=365),
    )
    consent_services.consent_record(
        client=client,
        by=staff,
        organization=clinic,
        categories=["food-insecurity"],
        method=ConsentMethod.ELECTRONIC,
        signature=mark("consent-signature"),
        whole_network=True,
        granted_at=now - timedelta(days=30),
        expires_at=now + timedelta(days=365),
    )
    assert consent.signed_form
    referral = referral_send(
        client=client,
        by=staff,
        sender=clinic,
        service=service,
        categories=["food-insecurity"] if "food" in service.slug else ["housing-instability"],
        idempotency_key=mark("key"),
        note=mark("referral-note"),
    )
    referral_message(referral=referral, by=staff, organization=clinic, text=mark("clinic-message"))
    referral_message(
        referral=referral, by=agency_user, organization=agency, text=mark("agency-message")
    )
    referral.refresh_from_db()
    referral_transition(
        referral=referral,
        to="accepted",
        by=agency_user,
        organization=agency,
        version=referral.version,
        reason=mark("accept-reason"),
    )


def bravo_build(tenant: Tenant) -> dict[str, list[str]]:
    """One object of every kind in network B, each carrying a BRAVO-MARK marker.

    Returns values the rows cannot give (the listing-verification token)."""
    mark = _marked("BRAVO")
    network_mark(tenant.network, f"Bravo Network {mark('network')}")
    for user in tenant.users.values():
        User.objects.filter(pk=user.pk).update(last_name=mark("user"))
    loop = loop_make(tenant)
    admin = tenant.users[Role.NETWORK_ADMIN]
    index = directory_services.directory_index_for(tenant.network)
    index.title = f"Directory {mark('directory')}"
    index.save_revision(user=admin).publish(user=admin)
    for organization in Organization.objects.filter(network=tenant.network):
        services.organization_update(
            organization=organization, name=f"{organization.name} {mark('organization')}"
        )
    User.objects.filter(pk=loop.users["housing_staff"].pk).update(last_name=mark("user"))
    # The loop's own client (unmarked by loop_make) gets marked too.
    Client.objects.filter(pk=loop.client.pk).update(first_name=mark("client"))
    collection = Collection.objects.get(name=tenant.network.name)
    document = get_document_model().objects.create(
        title=mark("document"),
        file=ContentFile(f"{mark('document-file')}".encode(), name="bravo-agreement.pdf"),
        collection=collection,
        uploaded_by_user=admin,
    )
    image = get_image_model().objects.create(
        title=mark("image"),
        file=ContentFile(_png(), name="bravo-logo.png"),
        collection=collection,
        uploaded_by_user=admin,
    )
    image.get_rendition("original")
    agreement = loop.agreements["food"]
    type(agreement).objects.filter(pk=agreement.pk).update(document=document)
    # Pages: marked titles, a revision each (history, revisions and compare views), a logo.
    for page in [
        *AgencyPage.objects.descendant_of(tenant.network.site.root_page),
        *ServicePage.objects.descendant_of(tenant.network.site.root_page),
    ]:
        page.title = f"{page.title} {mark('page')}"
        if isinstance(page, AgencyPage):
            page.logo = image
        page.save_revision(user=admin).publish(user=admin)
    TaxonomyTerm.objects.create(
        network=tenant.network,
        code="bravo-type",
        name=mark("taxonomyterm"),
        description=mark("taxonomyterm-description"),
    )
    agency_page = AgencyPage.objects.get(organization=loop.food_agency)
    directory_services.listing_suggestion_create(
        page=agency_page,
        organization=loop.food_agency,
        by=tenant.users[Role.AGENCY_STAFF],
        text=mark("suggestion"),
    )
    feed = HsdsFeed.objects.create(
        network=tenant.network,
        name=mark("feed"),
        url="https://bravo-211.example.org/api/hsds/",
        api_key=mark("feed-key"),
    )
    FeedRun.objects.create(
        feed=feed, status=FeedRunStatus.FAILED, trigger="manual", summary=mark("feed-run")
    )
    DirectoryImport.objects.create(
        network=tenant.network,
        uploaded_by=admin,
        upload=ContentFile(mark("import-file").encode(), name="bravo-import.zip"),
        original_name=f"{mark('import')}.zip",
        summary=mark("import-summary"),
    )
    client_data_build(
        mark=mark,
        clinic=tenant.clinic,
        staff=tenant.users[Role.CLINIC_STAFF],
        service=loop.food,
        agency_user=tenant.users[Role.AGENCY_STAFF],
        agency=loop.food_agency,
    )
    # The Wagtail objects a network's admins create: a redirect, view restrictions, an upload in
    # progress, an editing session, and a workflow run on one of its pages.
    Redirect.objects.create(
        site=tenant.network.site,
        old_path="/bravo-old",
        redirect_link=f"https://example.org/{mark('redirect')}",
    )
    PageViewRestriction.objects.create(
        page=agency_page, restriction_type=PageViewRestriction.PASSWORD, password="bravo-secret"
    )
    CollectionViewRestriction.objects.create(
        collection=collection,
        restriction_type=CollectionViewRestriction.PASSWORD,
        password="bravo-secret",
    )
    UploadedFile.objects.create(
        file=ContentFile(mark("upload-file").encode(), name="bravo-upload.pdf"),
        uploaded_by_user=admin,
        for_content_type=ContentType.objects.get_for_model(get_document_model()),
    )
    EditingSession.objects.create(
        user=admin,
        content_type=ContentType.objects.get_for_model(Page),
        object_id=str(agency_page.pk),
        last_seen_at=timezone.now(),
    )
    service = ServicePage.objects.get(pk=loop.food.pk)
    workflow = service.get_workflow()
    if workflow is not None:
        service.title = f"{service.title} {mark('draft')}"
        service.save_revision(user=admin)
        workflow.start(service, admin)
    # A pending invitation to the clinic, for an account created with it (a marked name).
    services.invitation_create(
        organization=tenant.clinic,
        email="bravo-invitee@example.org",
        role=Role.CLINIC_STAFF,
        by=tenant.users[Role.CLINIC_ADMIN],
        first_name=mark("invitation"),
    )
    # A system (an EHR) registered for the clinic, with a marked name.
    _private, public = key_pair("ES384")
    smart.api_client_register(
        network=tenant.network,
        organization=tenant.clinic,
        name=mark("system"),
        role=ApiClientRole.CLINIC,
        jwks={"keys": [{**public, "kid": "bravo-1"}]},
        scopes=["system/Task.rs"],
        by=None,
    )
    token = verification_links.verification_token_make(
        page=agency_page, user=tenant.users[Role.AGENCY_ADMIN]
    )
    return {"token": [token]}


def alpha_second_build(tenant: Tenant, loop: Loop) -> None:
    """A second clinic in network A, with a client referred to the agency A's agency roles do
    not work at (Bay Housing): nobody of A's walkers works with this client."""
    mark = _marked("ALPHA2")
    clinic = organization_make(tenant.network, "clinic", name="Alpha Second Clinic")
    staff = UserFactory(username="alpha2-clinic-staff")
    services.membership_grant(user=staff, role=Role.CLINIC_STAFF, organization=clinic, notify=False)
    client_data_build(
        mark=mark,
        clinic=clinic,
        staff=staff,
        service=loop.housing,
        agency_user=loop.users["housing_staff"],
        agency=loop.housing_agency,
    )


# Rows of the second clinic that are theirs alone: its client data. Its organization and
# membership are visible to A's network admin by design, and are not walked.
CLIENT_DATA_LABELS = {
    "referrals.client",
    "referrals.screening",
    "referrals.referral",
    "referrals.referralevent",
    "referrals.notification",
    "consent.consent",
    "consent.accesslog",
}


def world_build() -> World:
    alpha = tenant_make("Alpha")
    alpha_loop = loop_make(alpha)
    alpha_loop.send()  # A's own referral: A's lists have rows of A among which B's must not be
    outsider = UserFactory(username="walker-outsider")

    before = rows_snapshot()
    alpha_second_build(alpha, alpha_loop)
    middle = rows_snapshot()
    second_rows = {
        model: pks
        for model, pks in rows_new(before, middle).items()
        if model._meta.label_lower in CLIENT_DATA_LABELS
    }
    bravo = tenant_make("Bravo")
    extra = bravo_build(bravo)
    after = rows_snapshot()
    # A page row is also a row of its concrete class; both are registered.
    bravo_rows = rows_new(middle, after)

    world = World(
        alpha=alpha,
        alpha_loop=alpha_loop,
        alpha_host=alpha.network.site.hostname,
        outsider=outsider,
        bravo=Owner("network B", markers=["BRAVO-MARK-"], rows=bravo_rows, extra=extra),
        alpha_second=Owner("A's other clinic", markers=["ALPHA2-MARK-"], rows=second_rows),
    )
    world.walkers = {"anonymous": None, "no membership": outsider}
    world.walkers.update({role.value: alpha.users[role.value] for role in Role})
    return world


def file_names(owner: Owner, *, skip: Iterable[type[models.Model]] = ()) -> list[str]:
    """The stored names of every file on the owner's rows (consent forms, documents, uploads)."""
    names: list[str] = []
    for model in owner.rows:
        if any(issubclass(model, s) for s in skip):
            continue
        fields = [
            f
            for f in model._meta.get_fields()
            if isinstance(f, models.FileField) and f.model is model
        ]
        for obj in owner.objects(model) if fields else []:
            for f in fields:
                value = getattr(obj, f.name)
                if value:
                    names.append(value.name)
    return sorted(set(names))
