from __future__ import annotations

from typing import Any

from django.http import HttpRequest


def tenant(request: HttpRequest) -> dict[str, Any]:
    """The acting tenant for templates (navigation, organization switcher)."""
    return {
        "current_network": getattr(request, "network", None),
        "current_organization": getattr(request, "organization", None),
        "current_membership": getattr(request, "membership", None),
        "my_memberships": getattr(request, "memberships", []),
    }
