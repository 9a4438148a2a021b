"""The Wagtail admin reaches only the acting user's tenant: their networks' snippets, the page
subtrees their groups may edit, and the collections they hold permissions on.

Two mechanisms, each a single place so a new view cannot forget it:

- ``NetworkScopedSnippetViewSet``: every view a snippet viewset builds (its own and its chooser's)
  is scoped by the model's permission policy. An object outside the policy's instances is not
  found (404); lists and choosers only hold those instances.
- ``admin_urls_scoped``: wraps every Wagtail admin URL. A URL naming a page, document or image
  outside the user's reach (or a bulk action over one) is not found (404), before Wagtail's own
  view runs (several of which look the object up without any permission check).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING, Any, cast

from django import forms
from django.contrib.admin.utils import unquote
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.db.models import IntegerField, Model, Q, QuerySet
from django.http import Http404, HttpRequest, HttpResponse
from django.urls import URLPattern, URLResolver
from django.utils.text import capfirst
from django.utils.translation import gettext_lazy as _
from django.views.defaults import page_not_found
from wagtail.admin.api.views import PagesAdminAPIViewSet
from wagtail.admin.filters import MultipleUserFilter
from wagtail.admin.forms.choosers import ExternalLinkChooserForm, URLOrAbsolutePathField
from wagtail.admin.menu import MenuItem
from wagtail.admin.views.chooser import ExternalLinkView
from wagtail.admin.views.generic.chooser import (
    BaseChooseView,
    ChosenMultipleViewMixin,
    CreateViewMixin,
)
from wagtail.admin.views.generic.models import IndexView
from wagtail.admin.views.pages.listing import (
    EditedByFilter,
    ExplorableIndexView,
    GenericPageFilterSet,
    SiteFilter,
)
from wagtail.admin.viewsets.pages import PageViewSet
from wagtail.admin.widgets.chooser import BaseChooser
from wagtail.documents.api.admin.views import DocumentsAdminAPIViewSet
from wagtail.images.api.admin.views import ImagesAdminAPIViewSet
from wagtail.models import GroupPagePermission, Page, PageLogEntry, Site
from wagtail.permissions import policy_registry
from wagtail.snippets.views import snippets as snippet_views
from wagtail.snippets.views.chooser import SnippetChooserViewSet
from wagtail.snippets.views.snippets import SnippetViewSet
from wagtail.utils.urlpatterns import decorate_urlpatterns

from .permissions import administered_network_ids

if TYPE_CHECKING:
    from .permissions import Actor

# Every action a policy may grant: an instance for which the user holds none is out of reach.
VISIBLE_ACTIONS = ("add", "change", "delete", "view", "choose", "publish", "lock", "unlock")
# For documents and images: Wagtail's collection permissions (per-network collections).
MEDIA_ACTIONS = ("add", "change", "delete", "choose")


# --- snippets ----------------------------------------------------------------------------------


def snippets_visible(*, user: Actor, model: type[Model]) -> QuerySet[Any]:
    """The instances of ``model`` the user holds any permission for, per its permission policy."""
    policy = policy_registry.get_by_type(model)
    return cast(QuerySet[Any], policy.instances_user_has_any_permission_for(user, VISIBLE_ACTIONS))


# The largest key a 64-bit integer column holds (SQLite's INTEGER, PostgreSQL's bigint).
MAX_INTEGER_KEY = 2**63 - 1


def _is_key(model: type[Model], key: Any) -> bool:
    """Whether ``key`` can name an instance of ``model``: for an integer key, a positive integer
    a database column holds (a larger one makes SQLite raise OverflowError)."""
    field = model._meta.pk
    try:
        value = field.to_python(key)
    except (ValueError, TypeError, ValidationError):
        return False
    if isinstance(field, IntegerField):
        return isinstance(value, int) and 0 < value <= MAX_INTEGER_KEY
    return value is not None


def _is_visible(queryset: QuerySet[Any], pk: Any) -> bool:
    return _is_key(queryset.model, pk) and queryset.filter(pk=pk).exists()


class ScopedObjectMixin:
    """A view whose URL names an object (``pk``) outside the user's scope answers 404.

    Checked in ``setup``, before Wagtail's views look the object up (several do so there, with
    differing ``get_object`` signatures).
    """

    model: Any
    pk_url_kwarg = "pk"

    def _scoped_model(self) -> type[Model]:
        return cast(type[Model], getattr(self, "model_class", None) or self.model)

    def setup(self, request: HttpRequest, *args: Any, **kwargs: Any) -> None:
        key = kwargs.get(self.pk_url_kwarg)
        if key is not None:
            visible = snippets_visible(user=request.user, model=self._scoped_model())
            if not _is_visible(visible, unquote(str(key))):
                raise Http404
        super().setup(request, *args, **kwargs)  # type: ignore[misc]


class ScopedIndexMixin(ScopedObjectMixin):
    """The index (and its results and exports) lists only visible instances, whatever queryset
    the viewset supplies."""

    request: HttpRequest

    def get_base_queryset(self) -> QuerySet[Any]:
        queryset: QuerySet[Any] = super().get_base_queryset()  # type: ignore[misc]
        visible = snippets_visible(user=self.request.user, model=self._scoped_model())
        return queryset.filter(pk__in=visible.values("pk"))


class ScopedChooseMixin(ScopedObjectMixin):
    """The chooser lists (and searches) only visible instances."""

    request: HttpRequest

    def get_object_list(self) -> QuerySet[Any]:
        objects: QuerySet[Any] = super().get_object_list()  # type: ignore[misc]
        visible = snippets_visible(user=self.request.user, model=self._scoped_model())
        return objects.filter(pk__in=visible.values("pk"))


class ScopedChosenMultipleMixin(ScopedObjectMixin):
    """Choosing several at once returns only visible instances."""

    request: HttpRequest

    def get_objects(self, pks: Sequence[str]) -> QuerySet[Any]:
        model = self._scoped_model()
        if not all(_is_key(model, pk) for pk in pks):  # not even a key: nothing to choose
            raise Http404
        visible = snippets_visible(user=self.request.user, model=model)
        return visible.filter(pk__in=list(pks))


class NoChooserCreationMixin(ScopedObjectMixin):
    """Snippets are created in their own form (through the services), never from a chooser:
    without a creation form the chooser's create URL does not exist."""

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if self.get_creation_form_class() is None:  # type: ignore[attr-defined]
            raise Http404
        return cast(HttpResponse, super().dispatch(request, *args, **kwargs))  # type: ignore[misc]


def scoped_view_class(view_class: type) -> type:
    """``view_class`` with the scoping mixin its kind of view needs (idempotent)."""
    if issubclass(view_class, ScopedObjectMixin):
        return view_class
    mixin: type[ScopedObjectMixin] = ScopedObjectMixin
    if issubclass(view_class, IndexView):
        mixin = ScopedIndexMixin
    elif issubclass(view_class, BaseChooseView):
        mixin = ScopedChooseMixin
    elif issubclass(view_class, ChosenMultipleViewMixin):
        mixin = ScopedChosenMultipleMixin
    elif issubclass(view_class, CreateViewMixin):
        mixin = NoChooserCreationMixin
    return type(f"Scoped{view_class.__name__}", (mixin, view_class), {})


class ScopedSnippetChooserViewSet(SnippetChooserViewSet):
    """The chooser of a scoped snippet: choose, results, chosen, chosen-multiple and create."""

    def construct_view(self, view_class: type, **kwargs: Any) -> Callable[..., HttpResponse]:
        return cast(
            Callable[..., HttpResponse],
            super().construct_view(scoped_view_class(view_class), **kwargs),
        )


class ChooserValuesCheckedFormMixin:
    """A form shown again with errors does not hand its chooser widgets a value outside the
    field's choices: Wagtail's chooser looks the submitted key up itself, unchecked (a key that
    is not a number fails with ValueError; another network's key would show that object's
    title). Such a value is shown blank, under the field's own "not one of the available
    choices" error."""

    fields: dict[str, forms.Field]
    data: Any
    files: Any
    is_bound: bool
    _errors: Any
    add_prefix: Callable[[str], str]

    def full_clean(self) -> None:
        super().full_clean()  # type: ignore[misc]
        if not self.is_bound or not self._errors:
            return
        outside = []
        for name, field in self.fields.items():
            if field.disabled or not isinstance(field, forms.ModelChoiceField):
                continue
            if not isinstance(field.widget, BaseChooser):
                continue
            key = self.add_prefix(name)
            raw = field.widget.value_from_datadict(self.data, self.files, key)
            if raw in field.empty_values:
                continue
            try:
                field.to_python(raw)  # looked up in the field's own (scoped) queryset
            except ValidationError:
                outside.append(key)
        if outside:
            data = self.data.copy()
            for key in outside:
                data[key] = ""
            self.data = data


def form_class_scoped(form_class: type[forms.BaseForm]) -> type[forms.BaseForm]:
    """``form_class`` whose chooser widgets never look up a value outside the field's choices
    (idempotent)."""
    if issubclass(form_class, ChooserValuesCheckedFormMixin):
        return form_class
    return type(form_class.__name__, (ChooserValuesCheckedFormMixin, form_class), {})


class NetworkScopedSnippetViewSet(SnippetViewSet):
    """Base of every snippet viewset: each view it builds (index, inspect, edit, delete, copy,
    history, usage, revisions, export…) and its chooser only reach the instances the model's
    permission policy grants the user; any other instance is not found. Its forms shown again
    with errors keep chooser values to the fields' choices."""

    chooser_viewset_class = ScopedSnippetChooserViewSet

    def construct_view(self, view_class: type, **kwargs: Any) -> Callable[..., HttpResponse]:
        return cast(
            Callable[..., HttpResponse],
            super().construct_view(scoped_view_class(view_class), **kwargs),
        )

    def get_form_class(self, for_update: bool = False) -> type[forms.BaseForm]:
        return form_class_scoped(super().get_form_class(for_update=for_update))

    def get_queryset(self, request: HttpRequest) -> QuerySet[Any]:
        return snippets_visible(user=request.user, model=self.model)


# --- pages, documents and images ---------------------------------------------------------------


def _page_roots(user: Actor) -> list[str]:
    """Tree paths of the pages the user's groups hold permissions on (cached on the user, which
    lives for one request)."""
    cached: list[str] | None = getattr(user, "_handoff_page_roots", None)
    if cached is None:
        paths = sorted(
            set(
                GroupPagePermission.objects.filter(group__user=user).values_list(
                    "page__path", flat=True
                )
            )
        )
        # Keep only the topmost: a root inside another root adds nothing.
        cached = [p for p in paths if not any(p != q and p.startswith(q) for q in paths)]
        user._handoff_page_roots = cached  # type: ignore[union-attr]
    return cached


def pages_reachable(*, user: Actor, queryset: QuerySet[Any] | None = None) -> QuerySet[Any]:
    """Pages (from ``queryset``) the user may reach in the admin: every page for a superuser,
    else the subtrees their groups hold page permissions on (a network admin: the network's
    tree; an agency admin: the agency's listing), never their ancestors or siblings."""
    pages = queryset if queryset is not None else Page.objects.all()
    if not user.is_active:
        return pages.none()
    if user.is_superuser:
        return pages
    roots = _page_roots(user)
    if not roots:
        return pages.none()
    within = Q()
    for path in roots:
        within |= Q(path__startswith=path)
    return pages.filter(within)


def _sites_reachable(request: HttpRequest) -> QuerySet[Site]:
    return Site.objects.filter(root_page__in=pages_reachable(user=request.user))


def _owners_reachable(request: HttpRequest) -> QuerySet[Any]:
    owners = pages_reachable(user=request.user).order_by().values("owner_id")
    return get_user_model().objects.filter(pk__in=owners)


def _editors_reachable(request: HttpRequest) -> QuerySet[Any]:
    edits = PageLogEntry.objects.filter(
        action="wagtail.edit", page__in=pages_reachable(user=request.user).values("pk")
    )
    return get_user_model().objects.filter(pk__in=edits.order_by().values("user_id"))


class ScopedPageFilterSet(GenericPageFilterSet):
    """The page listing's filters offer only the user's sites and the people who own or edited
    pages they reach (Wagtail's offer every site, owner and editor of the deployment)."""

    owner = MultipleUserFilter(
        label=_("Owner"), queryset=_owners_reachable, widget=forms.CheckboxSelectMultiple
    )
    edited_by = EditedByFilter(
        label=_("Edited by"), queryset=_editors_reachable, widget=forms.CheckboxSelectMultiple
    )
    site = SiteFilter(
        label=_("Site"), queryset=_sites_reachable, widget=forms.CheckboxSelectMultiple
    )


class ScopedExplorableIndexView(ExplorableIndexView):
    base_filterset_class = ScopedPageFilterSet


class ScopedPageViewSet(PageViewSet):
    """Wagtail's default page views, with the explorer's filters scoped."""

    index_view_class = ScopedExplorableIndexView
    filterset_class = ScopedPageFilterSet  # what the viewset hands its index view


def media_visible(*, user: Actor, model: type[Model]) -> QuerySet[Any]:
    """Documents or images in the collections the user holds permissions on (each network's
    admin group holds them on its own collection)."""
    policy = policy_registry.get_by_type(model)
    return cast(QuerySet[Any], policy.instances_user_has_any_permission_for(user, MEDIA_ACTIONS))


def _document_model() -> type[Model]:
    from wagtail.documents import get_document_model

    return cast(type[Model], get_document_model())


def _image_model() -> type[Model]:
    from wagtail.images import get_image_model

    return cast(type[Model], get_image_model())


# URL keyword arguments that name a page in Wagtail's page views, chooser and explorer.
PAGE_KWARGS = frozenset(
    {"page_id", "parent_page_id", "page_to_move_id", "destination_id", "page_pk"}
)
# URL namespaces (or names) whose ``pk``/``*_id`` keyword names a document or an image.
DOCUMENT_URLS = {
    "wagtaildocs": ("document_id", "doc_id"),
    "wagtaildocs_chooser": ("pk",),
}
IMAGE_URLS = {
    "wagtailimages": ("image_id",),
    "wagtailimages_chooser": ("pk", "image_id"),
}
PAGE_PK_URLS = frozenset({"wagtailadmin_pages:revisions_compare"})
# Wagtail reports over the whole deployment: their rows or filters name every network's pages,
# people, workflows and sites (site history: every network's log entries and their authors).
# Only superusers (operators) see them.
DEPLOYMENT_WIDE_REPORTS = frozenset(
    f"wagtailadmin_reports:{name}{suffix}"
    for name in (
        "locked_pages",
        "workflow",
        "workflow_tasks",
        "page_types_usage",
        "site_history",
    )
    for suffix in ("", "_results")
)
DEPLOYMENT_WIDE_REPORT_MENU_ITEMS = frozenset(
    {"locked-pages", "workflows", "workflow-tasks", "page-types-usage", "site-history"}
)
# Whole admin sections over the deployment, for superusers only:
# - workflows and tasks: each network's listing review is created by the directory service
#   (``directory_workflow_ensure``), not managed by network admins, who hold no workflow or
#   task permission; the task chooser checks no permission at all and lists every network's
#   tasks;
# - form submissions: this project has no form pages, and the listing's filters name every
#   network's sites and people.
DEPLOYMENT_WIDE_NAMESPACES = frozenset({"wagtailadmin_workflows", "wagtailforms"})
BULK_ACTION_URL = "wagtail_bulk_action"


def _out_of_reach(request: HttpRequest, view_name: str, kwargs: dict[str, Any]) -> bool:
    """Whether the admin URL names a page, document, image or bulk-action object the user
    may not reach."""
    user = request.user
    namespace = view_name.rpartition(":")[0]
    if view_name in DEPLOYMENT_WIDE_REPORTS or namespace in DEPLOYMENT_WIDE_NAMESPACES:
        return not user.is_superuser
    page_keys = [kwargs[k] for k in PAGE_KWARGS if k in kwargs]
    if view_name in PAGE_PK_URLS:
        page_keys.append(kwargs["pk"])
    if page_keys and not _all_visible(pages_reachable(user=user), page_keys):
        return True
    for urls, model_of in ((DOCUMENT_URLS, _document_model), (IMAGE_URLS, _image_model)):
        names = urls.get(namespace, ())
        keys = [kwargs[k] for k in names if k in kwargs]
        if keys and not _all_visible(media_visible(user=user, model=model_of()), keys):
            return True
    if view_name == BULK_ACTION_URL:
        return _bulk_out_of_reach(request, kwargs)
    return False


def _all_visible(queryset: QuerySet[Any], keys: Iterable[Any]) -> bool:
    wanted = {unquote(str(key)) for key in keys}
    if not all(_is_key(queryset.model, key) for key in wanted):
        return False
    found = {str(pk) for pk in queryset.filter(pk__in=wanted).values_list("pk", flat=True)}
    return found == wanted


def _bulk_out_of_reach(request: HttpRequest, kwargs: dict[str, Any]) -> bool:
    """Bulk actions list the objects they were given (even those the user may not act on)."""
    from django.apps import apps

    try:
        model = apps.get_model(kwargs["app_label"], kwargs["model_name"])
    except LookupError:
        return False  # Wagtail answers 404 itself
    ids = [i for i in request.GET.getlist("id") if i != "all"]
    user = request.user
    if issubclass(model, Page):
        visible = pages_reachable(user=user)
    elif issubclass(model, (_document_model(), _image_model())):
        visible = media_visible(user=user, model=model)
    else:
        visible = snippets_visible(user=user, model=model)
    if "all" in request.GET.getlist("id"):
        # "Everything in the listing" is Wagtail's whole table, or a page's children: only for
        # a superuser, or the children of a page the user reaches.
        if user.is_superuser:
            return False
        parent = request.GET.get("childOf")
        return not (issubclass(model, Page) and parent and _all_visible(visible, [parent]))
    return bool(ids) and not _all_visible(visible, ids)


def reports_menu_scoped(request: HttpRequest, menu_items: list[MenuItem]) -> None:
    """Hide the deployment-wide reports from everyone but superusers."""
    if not request.user.is_superuser:
        menu_items[:] = [
            item for item in menu_items if item.name not in DEPLOYMENT_WIDE_REPORT_MENU_ITEMS
        ]


def admin_view_scoped(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Answers Wagtail's admin 404 when the URL names something outside the user's reach."""

    @functools.wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        match = request.resolver_match
        if (
            match is not None
            and request.user.is_authenticated
            and _out_of_reach(request, match.view_name, match.kwargs)
        ):
            return page_not_found(request, Http404(), template_name="wagtailadmin/404.html")
        return view(request, *args, **kwargs)

    return wrapper


class ExternalLinkURLField(URLOrAbsolutePathField):
    """Wagtail's URL field, for which a missing value is an empty one (Wagtail's fails with
    AttributeError on ``None``)."""

    def to_python(self, value: Any) -> Any:
        return super().to_python(value or "")


class ScopedExternalLinkChooserForm(ExternalLinkChooserForm):
    url = ExternalLinkURLField(required=True, label=_("URL"))


class ScopedExternalLinkView(ExternalLinkView):
    """The rich-text editor's "external link" step. A URL of one of the user's sites becomes a
    link to the page it names; a URL of another network's site stays an external link (Wagtail
    matches every site and answers with that page's draft title, id and edit URL). A post
    without a URL is a form error, not a server error."""

    form_class = ScopedExternalLinkChooserForm

    def post(self, request: HttpRequest) -> HttpResponse:
        reachable = set(_sites_reachable(request).values_list("pk", flat=True))
        # The cache Wagtail's view reads the sites from (and page URLs are computed with).
        request._wagtail_cached_site_root_paths = [  # type: ignore[attr-defined]
            root for root in Site.get_site_root_paths() if root.site_id in reachable
        ]
        return cast(HttpResponse, super().post(request))


EXTERNAL_LINK_URL = "wagtailadmin_choose_page_external_link"


def _view_replace(
    urlpatterns: list[URLPattern | URLResolver], namespace: str, name: str, view: Callable[..., Any]
) -> None:
    """Serve the admin URL ``namespace:name`` (no namespace: ``name``) with ``view``, behind the
    decorators Wagtail gives its admin URLs (admin access, its 404 page, no caching)."""
    from django.views.decorators.cache import never_cache
    from wagtail.admin.auth import require_admin_access
    from wagtail.admin.urls import display_custom_404

    for pattern in urlpatterns:
        if isinstance(pattern, URLResolver) and pattern.namespace == namespace:
            _view_replace(pattern.url_patterns, "", name, view)
        elif isinstance(pattern, URLPattern) and not namespace and pattern.name == name:
            pattern.callback = never_cache(display_custom_404(require_admin_access(view)))


class ScopedSnippetIndexView(snippet_views.ModelIndexView):
    """The snippets index: each kind of snippet with the number of them the user may see (not
    every network's count)."""

    def _get_snippet_types(self) -> list[dict[str, Any]]:
        return [
            {
                "name": capfirst(model._meta.verbose_name_plural),
                "count": snippets_visible(user=self.request.user, model=model).count(),
                "model": model,
                "url": url,
            }
            for model in snippet_views.get_snippet_models_for_index_view()
            if (url := self.get_list_url(model))
        ]


def admin_urls_scoped(
    urlpatterns: list[URLPattern | URLResolver],
) -> list[URLPattern | URLResolver]:
    """Wagtail's admin URL patterns, each view behind ``admin_view_scoped``."""
    _view_replace(urlpatterns, "", EXTERNAL_LINK_URL, ScopedExternalLinkView.as_view())
    _view_replace(urlpatterns, "wagtailsnippets", "index", ScopedSnippetIndexView.as_view())
    return cast(
        list[URLPattern | URLResolver], decorate_urlpatterns(urlpatterns, admin_view_scoped)
    )


class ScopedPagesAdminAPIViewSet(PagesAdminAPIViewSet):
    """The admin API's pages (listing, detail, ``child_of``/``descendant_of`` parents): only
    the pages the user may reach, not the ancestors Wagtail adds for navigation."""

    def get_base_queryset(self) -> QuerySet[Any]:
        return pages_reachable(user=self.request.user, queryset=super().get_base_queryset())


class ScopedDocumentsAdminAPIViewSet(DocumentsAdminAPIViewSet):
    """The admin API's documents: only those of the user's collections."""

    def get_queryset(self) -> QuerySet[Any]:
        return media_visible(user=self.request.user, model=self.model).order_by("id")


class ScopedImagesAdminAPIViewSet(ImagesAdminAPIViewSet):
    """The admin API's images: only those of the user's collections."""

    def get_queryset(self) -> QuerySet[Any]:
        return media_visible(user=self.request.user, model=self.model).order_by("id")


def admin_api_scoped(router: Any) -> None:
    """Replace the admin API's endpoints with the scoped ones."""
    router.register_endpoint("pages", ScopedPagesAdminAPIViewSet)
    router.register_endpoint("documents", ScopedDocumentsAdminAPIViewSet)
    router.register_endpoint("images", ScopedImagesAdminAPIViewSet)


class NetworkAdminsMenuItem(MenuItem):
    """Shown to superusers and to the admins of any network (the page offers their networks)."""

    def is_shown(self, request: HttpRequest) -> bool:
        return bool(request.user.is_superuser or administered_network_ids(request.user))
