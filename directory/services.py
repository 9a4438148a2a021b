"""Writes to the directory's listings: map points, capacity, the editing workflow, verification
and suggestions. The HSDS importer (``directory.hsds.importing``) builds listings with these too."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext
from wagtail.models import (
    GroupApprovalTask,
    Page,
    Workflow,
    WorkflowPage,
    WorkflowTask,
)

from network import services as network_services
from network.models import Network, Organization, User
from network.permissions import (
    NetworkPerm,
    OrgPerm,
    organizations_users_with_perm,
    user_has_network_perm,
    user_has_org_perm,
)

from . import followup_tasks
from .changes import services_changed_send
from .hsds.import_writes import values_assign
from .map_points import address_fingerprint
from .models import (
    AgencyPage,
    CapacityStatus,
    DirectoryImport,
    DirectoryImportStatus,
    DirectoryIndexPage,
    FeedRun,
    FeedRunStatus,
    GeocodeStatus,
    ListingEditorGroup,
    ListingField,
    ListingSuggestion,
    ListingVerification,
    Location,
    LocationPoint,
    ServiceCapacity,
    ServicePage,
    SuggestionStatus,
)
from .selectors import JOB_UNFINISHED, listings_stale
from .tenancy import page_network
from .verification_links import verification_token_read

# --- geocoding --------------------------------------------------------------------------------


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
        fingerprint = address_fingerprint(location)
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
        elif values_assign(point, values):
            to_update.append(point)
    LocationPoint.objects.bulk_create(to_create)
    LocationPoint.objects.bulk_update(
        to_update, ["latitude", "longitude", "status", "address_fingerprint", "detail"]
    )
    if queued:
        transaction.on_commit(lambda: [followup_tasks.location_geocode.delay(pk) for pk in queued])
    return queued


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

VERIFY_ASK_AGAIN_DAYS = 14


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
        transaction.on_commit(
            lambda: [followup_tasks.listing_verification_send.delay(p, u) for p, u in requests]
        )
    return requests


# --- suggestions from agencies -----------------------------------------------------------------

SUGGESTION_MAX_LENGTH = 5000


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


def jobs_abandoned_close(*, now: datetime) -> int:
    """Mark failed the imports and feed syncs still queued or running long after they were
    asked for (``HSDS_IMPORT_STALE_MINUTES``, ``HSDS_FEED_STALE_MINUTES``); how many.

    Their worker was lost (killed, out of memory, its machine gone) before it could record an
    end: their transaction went with it, so nothing was written, and nothing else would ever end
    them (a redelivered task leaves a running job alone). The admin then reads what happened
    instead of a job that runs forever, and may try again. A job truly still running that long
    (the stale times are far above any import measured) records its own end when it finishes."""
    lost: list[tuple[Any, int, str, str]] = [
        (
            DirectoryImport.objects,
            settings.HSDS_IMPORT_STALE_MINUTES,
            DirectoryImportStatus.FAILED,
            gettext(
                "The import did not finish: the process running it was lost. Nothing was "
                "imported; upload the file again."
            ),
        ),
        (
            FeedRun.objects,
            settings.HSDS_FEED_STALE_MINUTES,
            FeedRunStatus.FAILED,
            gettext(
                "The sync did not finish: the process running it was lost. Nothing was changed; "
                "sync again, or wait for the next scheduled sync."
            ),
        ),
    ]
    return sum(
        jobs.filter(
            status__in=JOB_UNFINISHED, created_at__lt=now - timedelta(minutes=minutes)
        ).update(status=failed, summary=summary, finished_at=now)
        for jobs, minutes, failed, summary in lost
    )
