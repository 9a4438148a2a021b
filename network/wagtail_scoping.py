"""Wagtail admin views that find objects only within the user's networks (others are 404)."""

from __future__ import annotations

from typing import Any

from django.contrib.admin.utils import unquote
from django.db.models import Model, QuerySet
from django.http import Http404, HttpRequest
from wagtail.admin.menu import MenuItem

from .permissions import NetworkScopedPolicy, administered_network_ids


class ScopedObjectMixin:
    """An object outside the user's networks is not found (404), rather than forbidden."""

    permission_policy: NetworkScopedPolicy
    request: HttpRequest
    kwargs: dict[str, Any]
    pk_url_kwarg: str

    def get_object(self, queryset: QuerySet[Any] | None = None) -> Model:
        pk = unquote(str(self.kwargs[self.pk_url_kwarg]))
        visible = self.permission_policy.instances_user_has_any_permission_for(
            self.request.user, ["change"]
        )
        if not visible.filter(pk=pk).exists():
            raise Http404
        return super().get_object(queryset)  # type: ignore[misc]


def scoped(view_class: type) -> type:
    return type(f"Scoped{view_class.__name__}", (ScopedObjectMixin, view_class), {})


class NetworkAdminsMenuItem(MenuItem):
    """Shown to superusers and to the admins of any network (the page offers their networks)."""

    def is_shown(self, request: HttpRequest) -> bool:
        return bool(request.user.is_superuser or administered_network_ids(request.user))
