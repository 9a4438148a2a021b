"""Reading the agency inbox's page in tests: the referrals its rows list and a tab's count, and
a search posted the way the page posts it."""

from __future__ import annotations

import re

from django.urls import reverse
from django.utils.http import urlencode

INBOX = reverse("referrals:referral_inbox")


def listed(response) -> list[int]:  # type: ignore[no-untyped-def]
    """Referral ids in the inbox rows, in order."""
    return [
        int(pk)
        for pk in re.findall(
            r'data-testid="inbox-row">\s*<th[^>]*><a href="[^"]*">#(\d+)', response.content.decode()
        )
    ]


def tab_count(response, tab: str) -> int:  # type: ignore[no-untyped-def]
    """The count a tab shows, whether it is a link or (during a search) a button."""
    match = re.search(
        rf'data-testid="tab-{tab}">[^<]*<span class="tab-count">(\d+)</span>',
        response.content.decode(),
    )
    assert match, tab
    return int(match.group(1))


def search(client, q: str, page: str | int | None = None, **address: str):  # type: ignore[no-untyped-def]
    """Post ``q`` (a name or a number) as the search box does; the tab and order stay in the
    address."""
    url = INBOX + ("?" + urlencode(address) if address else "")
    data = {"q": q} if page is None else {"q": q, "page": page}
    return client.post(url, data)


def inbox(client, params: dict[str, str | int]):  # type: ignore[no-untyped-def]
    """The inbox for ``params``: posted when they hold a search (``q``, and its ``page``),
    fetched otherwise."""
    if "q" not in params:
        return client.get(INBOX, params)
    address = {k: str(v) for k, v in params.items() if k not in ("q", "page")}
    return search(client, str(params["q"]), page=params.get("page"), **address)
