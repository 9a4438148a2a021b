"""Wagtail admin views that find objects only within the user's networks (others are 404)."""

from __future__ import annotations

from typing import Any

from django.contrib.admin.utils import unquote
from django.db.models import Model, QuerySet
from django.http import Http404, HttpRequest

from .permissions import NetworkScopedPolicy


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
