"""The URLs of the isolation walk (test_isolation_walk.py): every URL pattern of the project, from
the resolver, filled in with a foreign party's objects (an ``Owner`` of isolation_world.py).

Each path parameter is filled with the owner's objects of the model the URL names:

- ``ROUTE_MODELS``: the model from where the pattern sits (``admin/snippets/<app>/<model>/``,
  ``workspace/clients/<pk>``…), tried first;
- the model the view was built for (Wagtail viewsets pass it to ``as_view``);
- ``PARAM_MODELS`` / ``PARAM_VALUES``: the model (or values) a parameter name stands for;
- ``UNNAMED_GROUPS``: patterns whose regular expression has unnamed groups.

A parameter no rule fills makes ``test_every_url_pattern_is_walked`` fail: add a rule here, or an
entry to ``EXCLUDED`` with the reason.
"""

from __future__ import annotations

import functools
import itertools
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from django.apps import apps
from django.contrib.auth.tokens import default_token_generator
from django.db import models
from django.urls import URLPattern, URLResolver, get_resolver
from django.urls.resolvers import RegexPattern, RoutePattern
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode
from wagtail.admin.models import EditingSession
from wagtail.admin.views.bulk_action.registry import bulk_action_registry
from wagtail.contrib.redirects.models import Redirect
from wagtail.contrib.settings.registry import registry as settings_registry
from wagtail.documents import get_document_model
from wagtail.images import get_image_model
from wagtail.images.models import AbstractRendition
from wagtail.models import (
    Collection,
    CollectionViewRestriction,
    Page,
    PageViewRestriction,
    Revision,
    Task,
    TaskState,
    UploadedFile,
    Workflow,
    WorkflowState,
)
from wagtail.snippets.models import get_snippet_models
from wagtail.workflows import get_task_types

from consent.models import Consent
from directory.hsds import documents as hsds_documents
from directory.models import (
    AgencyPage,
    DirectoryImport,
    FeedRun,
    HsdsFeed,
    ServiceAtLocation,
    ServicePage,
)
from network.models import Invitation, Membership, Network, Organization, User
from referrals.models import Client as ClientRecord
from referrals.models import Referral, Screening
from tests.network.isolation_world import Owner, file_names

Document = get_document_model()
Image = get_image_model()

# Patterns the walk does not request, each with its reason.
EXCLUDED: dict[str, str] = {
    "django.contrib.auth.views.LogoutView": "signs the walker out; names no object",
    "wagtail.admin.views.account.LogoutView": "signs the walker out; names no object",
    "django.views.i18n.set_language": "sets the walker's language; names no object",
    "wagtail.admin.views.home.default": "admin catch-all: answers 404 to any unknown admin path",
    "wagtail.admin.views.home.error_test": "Wagtail's deliberate error, to try the 500 page",
    # cms/urls.py routes /documents/<id>/<name> to consent.views.document_download first (walked
    # below); Wagtail's own serve view behind it is unreachable.
    "wagtail.documents.views.serve.serve": "shadowed by consent.views.document_download",
}
# No site-settings model is registered: their three URLs name nothing yet. A registered one is
# filled automatically (remove these then).
for _route in ("", "<int:pk>/", "<int:pk>/preview/"):
    EXCLUDED[f"admin/settings/<slug:app_name>/<slug:model_name>/{_route}"] = "no settings model"


# (route regex, parameter) -> model: where the place of a pattern says what its id names.
ROUTE_MODELS: list[tuple[str, str, type[models.Model]]] = [
    (r"^workspace/clients/", "pk", ClientRecord),
    (r"^workspace/(api/)?referrals/", "pk", Referral),
    (r"^workspace/listings/services/", "pk", Page),
    (r"^admin/api/main/\^pages/", "pk", Page),
    (r"^admin/api/main/\^documents/", "pk", Document),
    (r"^admin/api/main/\^images/", "pk", Image),
    (r"^admin/pages/\^\(\?P<pk>", "pk", Page),
    (r"^admin/workflows/tasks/", "pk", Task),
    (r"^admin/workflows/", "pk", Workflow),
    (r"^admin/documents/", "pk", Document),
    (r"^admin/images/", "pk", Image),
    (r"^admin/directory/import/", "pk", DirectoryImport),
    (r"^admin/directory/feeds/", "pk", HsdsFeed),
    (r"^admin/directory/feed-syncs/", "pk", FeedRun),
    (r"^workspace/(organizations/<slug:slug>/)?invitations/", "pk", Invitation),
    (r"^files/consents/", "pk", Consent),
]
SNIPPET_ROUTE = re.compile(r"^admin/snippets/(?:choose/)?(?P<app>\w+)/(?P<model>\w+)/")

# Parameter name -> model whose ids it takes.
PARAM_MODELS: dict[str, type[models.Model]] = {
    "membership_id": Membership,
    "screening_pk": Screening,
    "consent_pk": Consent,
    "page_id": Page,
    "parent_page_id": Page,
    "page_to_move_id": Page,
    "destination_id": Page,
    "page_pk": Page,
    "revision_id": Revision,
    "workflow_state_id": WorkflowState,
    "task_state_id": TaskState,
    "task_id": Task,
    "workflow_pk": Workflow,
    "document_id": Document,
    "doc_id": Document,
    "image_id": Image,
    "collection_id": Collection,
    "redirect_id": Redirect,
    "agency_id": Organization,
    "referral_id": Referral,
    "uploaded_file_id": UploadedFile,
    "session_id": EditingSession,
    "restriction_id": CollectionViewRestriction,
    "page_view_restriction_id": PageViewRestriction,
}


def _page_api_actions(owner: Owner, route: str) -> list[str]:
    from wagtail.admin.api.views import PagesAdminAPIViewSet

    return sorted(PagesAdminAPIViewSet.actions)


def _own_slugs(owner: Owner) -> list[str]:
    """The owner's organizations' slugs that no other organization has (a slug names an
    organization of the actor's own network first: test_tenancy covers a slug in two networks)."""
    mine = owner.objects(Organization)
    taken = set(
        Organization.objects.exclude(pk__in=[o.pk for o in mine]).values_list("slug", flat=True)
    )
    return [o.slug for o in mine if o.slug not in taken]


def _uidb64(owner: Owner, route: str) -> list[str]:
    return [urlsafe_base64_encode(force_bytes(pk)) for pk in owner.pks(User)[:2]]


def _token(owner: Owner, route: str) -> list[str]:
    if route.startswith("listings/verify/"):
        return owner.extra.get("token", [])
    users = owner.objects(User)[:1]
    return [default_token_generator.make_token(u) for u in users] + ["set-password"]


def _hsds_ids(owner: Owner, route: str) -> list[str]:
    """The HSDS ids of the owner's published directory objects that the public HSDS API names
    (``api/hsds/<kind>/<id>``): what another network's API must answer 404 to."""
    kind = route.removeprefix("api/hsds/").split("/")[0]
    networks = owner.objects(Network)
    if kind == "services":
        return [str(p.hsds_id) for p in owner.objects(ServicePage)][:2]
    if kind == "organizations":
        return [str(p.hsds_id) for p in owner.objects(AgencyPage)][:2]
    if kind == "service_at_locations":
        return [str(s.hsds_id) for s in owner.objects(ServiceAtLocation)][:2]
    made = hsds_documents.taxonomies if kind == "taxonomies" else hsds_documents.taxonomy_terms
    # The SDOH categories and Handoff's fixed vocabularies have one id in every network (the
    # same public object): only the owner's own terms name something of theirs.
    shared = {
        str(obj["id"])
        for network in Network.objects.exclude(pk__in=[n.pk for n in networks])
        for obj in made(network=network)
    }
    own = [str(obj["id"]) for network in networks for obj in made(network=network)]
    return [ident for ident in own if ident not in shared][:2]


# Parameter name -> values that are not row ids.
PARAM_VALUES: dict[str, Callable[[Owner, str], list[str]]] = {
    "slug": lambda owner, route: _own_slugs(owner),
    "uidb64": _uidb64,
    "token": _token,
    "filter_spec": lambda owner, route: ["original", "width-100"],
    "id": _hsds_ids,
    "action_name": lambda owner, route: (
        _page_api_actions(owner, route) if route.startswith("admin/api/") else ["approve", "reject"]
    ),
    # Images (agency logos) are published on the owner's public pages: not secret, not walked.
    "path": lambda owner, route: file_names(owner, skip=[Image, AbstractRendition]),
    "revision_id_a": lambda owner, route: ["earliest", *map(str, owner.pks(Revision)[:2])],
    "revision_id_b": lambda owner, route: ["live", "latest", *map(str, owner.pks(Revision)[:2])],
}

APP_PARAMS = {"app_label", "app_name", "content_type_app_name"}
MODEL_PARAMS = {"model_name", "content_type_model_name"}

# Patterns that answer 200 to a foreign object's URL without showing anything of it, and why.
ANSWERS_WITHOUT_DISCLOSING = {
    "accounts/password-reset/<uidb64>/<token>/": "says the link is invalid; names nobody",
    "admin/password_reset/confirm/<uidb64>/<token>/": "says the link is invalid; names nobody",
    "admin/workflows/tasks/add/<str:app_label>/<str:model_name>/": "a task type, not an object",
    # Wagtail's password forms for a restricted page or collection show no title; a right
    # password would open the owner's page only on the owner's host, or its document (whose
    # serving is judged by its own URL).
    "_util/authenticate_with_password/<int:page_view_restriction_id>/<int:page_id>/": "a form",
    "documents/authenticate_with_password/<int:restriction_id>/": "a form",
    "admin/editing-sessions/release/<int:session_id>/": "deletes the walker's own session only",
}

ROW_IDS = ("pk", "object_id")
CAP = 8  # combinations per pattern and owner


@dataclass
class Pattern:
    route: str
    segments: list[Any]
    url_pattern: URLPattern

    @property
    def view(self) -> str:
        callback = self.url_pattern.callback
        target = getattr(callback, "view_class", callback)
        while isinstance(target, functools.partial):  # a wrapped API view
            target = target.func
        return f"{target.__module__}.{target.__qualname__}"

    @property
    def params(self) -> list[str]:
        names: list[str] = []
        for segment in self.segments:
            names += list(segment.regex.groupindex)
        return names

    @property
    def unnamed_groups(self) -> int:
        return sum(s.regex.groups - len(s.regex.groupindex) for s in self.segments)


@dataclass
class Target:
    pattern: Pattern
    url: str
    names_row: bool  # the URL names one of the owner's objects
    names: list[str] = field(default_factory=list)  # whose objects (when merged)


def patterns_walk(
    entries: list[URLPattern | URLResolver] | None = None,
    segments: list[Any] | None = None,
) -> Iterator[Pattern]:
    """Every URL pattern of the project, with the chain of patterns leading to it."""
    segments = segments or []
    for entry in get_resolver().url_patterns if entries is None else entries:
        if isinstance(entry, URLResolver):
            yield from patterns_walk(entry.url_patterns, [*segments, entry.pattern])
        else:
            chain = [*segments, entry.pattern]
            yield Pattern("".join(str(s) for s in chain), chain, entry)


def _view_model(pattern: Pattern) -> type[models.Model] | None:
    callback = pattern.url_pattern.callback
    model = getattr(callback, "view_initkwargs", {}).get("model") or getattr(
        getattr(callback, "view_class", None), "model", None
    )
    if isinstance(model, str):
        model = apps.get_model(model)
    return model if isinstance(model, type) and issubclass(model, models.Model) else None


def _representatives(owner: Owner, model: type[models.Model]) -> list[Any]:
    """The owner's rows of ``model``: one page of each page type, else up to two rows."""
    pks = owner.pks(model)
    if issubclass(model, Page):
        by_type: dict[int, Any] = {}
        for pk, type_id in model.objects.filter(pk__in=pks).values_list("pk", "content_type_id"):
            by_type.setdefault(type_id, pk)
        return sorted(by_type.values())
    return pks[:2]


def _row_model(pattern: Pattern, param: str) -> type[models.Model] | None:
    if param in PARAM_MODELS:
        return PARAM_MODELS[param]
    if param not in ROW_IDS:
        return None
    match = SNIPPET_ROUTE.match(pattern.route)
    if match:
        return apps.get_model(match["app"], match["model"])
    for route, name, model in ROUTE_MODELS:
        if name == param and re.search(route, pattern.route):
            return model
    return _view_model(pattern)


def _pair_models(owner: Owner, pattern: Pattern) -> list[type[models.Model]]:
    """The models an (app, model) pair of parameters is tried with."""
    route = pattern.route
    if route.startswith("admin/settings/"):
        return list(settings_registry)
    if route.startswith("admin/workflows/tasks/add/"):
        return list(get_task_types())
    if route.startswith("admin/bulk/"):
        return [
            m
            for m in owner.rows
            if bulk_action_registry.get_bulk_actions_for_model(
                m._meta.app_label, m._meta.model_name
            )
        ]
    if "pages/" in route:
        return sorted(
            {p.specific_class for p in Page.objects.filter(pk__in=owner.pks(Page))}, key=str
        )
    # Otherwise (tag autocomplete, editing sessions): the owner's models the admin edits.
    edited = (Page, Document, Image, *get_snippet_models())
    return sorted(
        (m for m in owner.rows if issubclass(m, edited) and m is not Page),
        key=lambda m: m._meta.label,
    )


def _unnamed(pattern: Pattern, owner: Owner) -> list[tuple[str, bool]] | None:
    """URLs for the patterns whose regular expressions have unnamed groups."""
    if pattern.view == "consent.views.document_download":
        return [(f"/documents/{d.pk}/{d.filename}", True) for d in owner.objects(Document)]
    if pattern.view == "wagtail.views.serve":
        urls = []
        for pk in _representatives(owner, Page):
            parts = Page.objects.get(pk=pk).specific.get_url_parts()
            if parts:  # a path on any host: only what the answer shows can tell A's from B's
                urls.append((parts[2], False))
        return urls
    return None


def _substitute(segments: list[Any], values: dict[str, str]) -> str:
    url = ""
    for segment in segments:
        text = str(segment)
        if isinstance(segment, RoutePattern):
            url += re.sub(r"<(?:[^>:]+:)?([^>]+)>", lambda m: values[m[1]], text)
            continue
        assert isinstance(segment, RegexPattern)
        for name in segment.regex.groupindex:
            start = text.index(f"(?P<{name}>")
            depth, end = 0, start
            for end in range(start, len(text)):
                depth += {"(": 1, ")": -1}.get(text[end], 0) if text[end - 1] != "\\" else 0
                if depth == 0:
                    break
            text = text[:start] + values[name] + text[end + 1 :]
        url += text.lstrip("^").rstrip("$").replace("\\.", ".")
    return "/" + url


def targets_fill(pattern: Pattern, owner: Owner) -> list[Target] | None:
    """Every URL of ``pattern`` filled with ``owner``'s objects; None if a parameter has no rule."""
    if pattern.unnamed_groups:
        built = _unnamed(pattern, owner)
        return None if built is None else [Target(pattern, url, named) for url, named in built]
    params = pattern.params
    if not params:
        url = _substitute(pattern.segments, {})
        return [Target(pattern, url, False)]
    pair_app = next((p for p in params if p in APP_PARAMS), None)
    pair_model = next((p for p in params if p in MODEL_PARAMS), None)
    model_choices: list[type[models.Model] | None] = [None]
    if pair_app and pair_model:
        model_choices = list(_pair_models(owner, pattern))
    combos: list[tuple[dict[str, str], bool, type[models.Model] | None]] = []
    for chosen in model_choices:
        choices: list[list[tuple[str, bool]]] = []
        for param in params:
            if param in (pair_app, pair_model):
                assert chosen is not None
                value = chosen._meta.app_label if param == pair_app else chosen._meta.model_name
                choices.append([(value, False)])
            elif param == "action" and chosen is not None:
                actions = bulk_action_registry.get_bulk_actions_for_model(
                    chosen._meta.app_label, chosen._meta.model_name
                )
                choices.append([(a.action_type, False) for a in actions])
            elif param in ROW_IDS and chosen is not None:
                choices.append([(str(pk), True) for pk in _representatives(owner, chosen)])
            elif param in PARAM_VALUES:
                choices.append([(v, True) for v in PARAM_VALUES[param](owner, pattern.route)])
            elif (model := _row_model(pattern, param)) is not None:
                choices.append([(str(pk), True) for pk in _representatives(owner, model)])
            else:
                return None
        for combo in itertools.product(*choices):
            values = {p: v for p, (v, _) in zip(params, combo, strict=True)}
            combos.append((values, any(named for _, named in combo), chosen))
    targets = []
    for values, named, chosen in combos[:CAP]:
        url = _substitute(pattern.segments, values)
        if pattern.route.startswith("admin/bulk/") and chosen is not None:
            # Bulk actions name their objects in the query string.
            url += "?" + "&".join(f"id={pk}" for pk in _representatives(owner, chosen))
            named = True
        targets.append(Target(pattern, url, named))
    return targets


# Route prefixes another walk covers, with the reason.
EXCLUDED_PREFIXES: dict[str, str] = {
    # A session opens nothing there (every answer is 401 without a bearer token); network A's
    # systems walk every FHIR route with network B's ids: tests/referrals/fhir/test_isolation.py.
    "fhir/r4/": "walked by systems (bearer tokens) in tests/referrals/fhir/test_isolation.py",
}


def pattern_excluded(pattern: Pattern) -> str | None:
    prefixed = next(
        (why for p, why in EXCLUDED_PREFIXES.items() if pattern.route.startswith(p)), None
    )
    return EXCLUDED.get(pattern.view) or EXCLUDED.get(pattern.route) or prefixed


# ---------------------------------------------------------------------------------------------


def targets_all(pattern: Pattern, owners: dict[str, Owner]) -> list[Target]:
    """The pattern filled with each owner's objects, each URL once."""
    merged: dict[str, Target] = {}
    for owner in owners.values():
        for target in targets_fill(pattern, owner) or []:
            seen = merged.setdefault(target.url, Target(pattern, target.url, False))
            if target.names_row:
                seen.names_row = True
                seen.names.append(owner.label)
    return list(merged.values())
