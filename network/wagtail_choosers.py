"""Snippet choosers that only choose.

Wagtail routes a chooser's ``create/`` URL even when the chooser has no creation form, and that
view then fails (500) on any request. Models with their own create view (versioned agreements,
network-scoped organizations) are created there, never from inside a chooser.
"""

from __future__ import annotations

from typing import Any

from wagtail.snippets.views.chooser import SnippetChooserViewSet


class ChooseOnlyViewSet(SnippetChooserViewSet):
    """A snippet chooser without the create URL (404), for models created only in their own
    form."""

    def get_urlpatterns(self) -> list[Any]:
        return [p for p in super().get_urlpatterns() if getattr(p, "name", None) != "create"]
