"""Snippet choosers that only choose, and refuse ids that are not ids.

Wagtail routes a chooser's ``create/`` URL even when the chooser has no creation form, and that
view then fails (500) on any request; its ``chosen-multiple/`` view passes ``?id=`` values to the
database unchecked (500 on ``?id=abc``). Models with their own create view (versioned
agreements, network-scoped organizations) are created there, never from inside a chooser.
"""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest
from django.utils.translation import gettext as _
from wagtail.snippets.views.chooser import SnippetChooserViewSet, SnippetChosenMultipleView

MAX_ID = 2**63 - 1  # the largest id a database key holds


class ChosenMultipleByIdView(SnippetChosenMultipleView):
    """``?id=`` values that are not positive integers are a bad request (400)."""

    def get(self, request: HttpRequest) -> HttpResponse:
        ids = request.GET.getlist("id")
        if any(not value.isdigit() or int(value) > MAX_ID for value in ids):
            return HttpResponseBadRequest(
                _("Each id is a positive whole number."), content_type="text/plain; charset=utf-8"
            )
        return super().get(request)


class ChooseOnlyViewSet(SnippetChooserViewSet):
    """A snippet chooser without the create URL (404), for models created only in their own
    form, whose chosen-multiple view checks its ids."""

    chosen_multiple_view_class = ChosenMultipleByIdView

    def get_urlpatterns(self) -> list[Any]:
        return [p for p in super().get_urlpatterns() if getattr(p, "name", None) != "create"]
