"""The client's address for the access log: X-Forwarded-For is believed only from a trusted
proxy, read from the right, past every trusted proxy; anyone else's header is ignored."""

from __future__ import annotations

import pytest
from django.core.checks import Error
from django.test import RequestFactory, override_settings

from cms.apps import trusted_proxies_check
from cms.client_address import client_ip, client_user_agent

PROXIES = ["10.0.0.0/8", "2001:db8::1"]


def _ip(remote: str, forwarded: str | None = None) -> str | None:
    meta = {"REMOTE_ADDR": remote}
    if forwarded is not None:
        meta["HTTP_X_FORWARDED_FOR"] = forwarded
    return client_ip(RequestFactory().get("/", **meta))


@override_settings(HANDOFF_TRUSTED_PROXIES=PROXIES)
@pytest.mark.parametrize(
    ("remote", "forwarded", "expected"),
    [
        # Straight from the client, no header: the peer.
        ("203.0.113.5", None, "203.0.113.5"),
        # Spoofed: an untrusted sender's header proves nothing.
        ("203.0.113.5", "198.51.100.1", "203.0.113.5"),
        ("203.0.113.5", "10.0.0.1, 127.0.0.1", "203.0.113.5"),
        # Through the trusted proxy: the address it appended.
        ("10.0.0.2", "198.51.100.1", "198.51.100.1"),
        # The client wrote its own header first; the proxy appended the real address.
        ("10.0.0.2", "6.6.6.6, 198.51.100.1", "198.51.100.1"),
        # Two trusted proxies in a row: past both.
        ("10.0.0.2", "6.6.6.6, 198.51.100.1, 10.9.9.9", "198.51.100.1"),
        # IPv6 proxy and client.
        ("2001:db8::1", "2001:db8:ffff::7", "2001:db8:ffff::7"),
        # The proxy itself asks (a health check), or wrote garbage: as far as it is known.
        ("10.0.0.2", None, "10.0.0.2"),
        ("10.0.0.2", "not-an-address", "10.0.0.2"),
        ("10.0.0.2", "198.51.100.1, ", "10.0.0.2"),
        # No usable peer at all.
        ("", "198.51.100.1", None),
    ],
)
def test_client_address(remote, forwarded, expected):
    assert _ip(remote, forwarded) == expected


@override_settings(HANDOFF_TRUSTED_PROXIES=[])
def test_without_trusted_proxies_the_header_is_ignored():
    assert _ip("10.0.0.2", "198.51.100.1") == "10.0.0.2"


def test_user_agent_is_cut_to_what_the_log_keeps():
    request = RequestFactory().get("/", HTTP_USER_AGENT="x" * 500)
    assert client_user_agent(request) == "x" * 300


@override_settings(HANDOFF_TRUSTED_PROXIES=["10.0.0.0/8", "proxy.example"])
def test_a_setting_that_names_no_address_fails_the_checks():
    problems = trusted_proxies_check()
    assert [p.id for p in problems] == ["handoff.E101"]
    assert isinstance(problems[0], Error)
    assert "proxy.example" in problems[0].msg


@override_settings(HANDOFF_TRUSTED_PROXIES=PROXIES)
def test_good_settings_pass_the_checks():
    assert trusted_proxies_check() == []
