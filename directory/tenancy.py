"""Which network a directory page belongs to: its tenant, found from the page's place in the tree.

It reads only the network app and Wagtail's page tree, so the directory's models and page forms
can use it.
"""

from __future__ import annotations

from wagtail.models import Page

from network.models import Network


def page_network(*, page: Page) -> Network | None:
    """The network whose site tree holds a directory page (its tenant)."""
    if not page.path:
        return None
    return Network.objects.filter(site__root_page__path=page.path[: Page.steplen * 2]).first()
