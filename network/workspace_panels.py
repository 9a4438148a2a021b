"""What the workspace home says needs doing: panels of counted tasks that higher apps register.

``network`` cannot import the apps above it, so the home page asks the apps that know the work
(the referral loop: new, overdue, awaiting an outcome, declined, unread) through this registry.
An app registers a maker in its ``AppConfig.ready()``; a maker answers with a panel, or with
None when the acting person has nothing of that kind to do. A maker runs a fixed number of
queries, whatever the number of rows behind its counts.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from network.middleware import TenantRequest


@dataclass(frozen=True)
class WorkspaceTask:
    """One line of a panel: how many, what, and the list that shows them."""

    label: str
    count: int
    url: str
    urgent: bool = False  # shown as needing attention when the count is not zero


@dataclass(frozen=True)
class WorkspacePanel:
    title: str
    tasks: list[WorkspaceTask] = field(default_factory=list)
    order: int = 100  # smaller first


PanelMaker = Callable[["TenantRequest", datetime], "WorkspacePanel | None"]

_MAKERS: dict[str, PanelMaker] = {}


def workspace_panel_register(key: str, maker: PanelMaker) -> None:
    """Add (or replace, under the same ``key``) a maker of home-page panels."""
    _MAKERS[key] = maker


def workspace_panels(request: TenantRequest, now: datetime) -> list[WorkspacePanel]:
    """The panels of every registered maker for the acting person, in their order."""
    panels = [panel for maker in _MAKERS.values() if (panel := maker(request, now)) is not None]
    return sorted(panels, key=lambda panel: panel.order)
