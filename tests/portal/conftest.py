"""The agency portal's cast: the referral loop's network (``loop``) and a second one."""

from __future__ import annotations

from typing import Any

from django.db import connection
from django.test.utils import CaptureQueriesContext

from network.models import Organization, User
from referrals.models import Referral
from referrals.services.transitions import referral_transition


def move(referral: Referral, to: str, by: User, organization: Organization, **kwargs: Any) -> None:
    """Apply one change as the agency's staff would (the version read fresh)."""
    referral.refresh_from_db()
    referral_transition(
        referral=referral,
        to=to,
        by=by,
        organization=organization,
        version=referral.version,
        **kwargs,
    )


def queries(client: Any, url: str, **kwargs: Any) -> int:
    """How many queries one GET costs (it must answer 200)."""
    with CaptureQueriesContext(connection) as captured:
        response = client.get(url, **kwargs)
    assert response.status_code == 200, response.status_code
    return len(captured.captured_queries)
