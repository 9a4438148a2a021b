"""The production path of the web tier: gunicorn with production settings and WhiteNoise."""

from __future__ import annotations

import http.client

import pytest

from tests.network.factories import network_make
from tests.processes import production_gunicorn

KEY = "gunicorn-test-" + "Qm7Zr4Lp9Xw2Vn6Bt8Yc3Ks5Hd1Fg0Je_Ua" * 2


@pytest.fixture
def production_server(tmp_path):
    with production_gunicorn(
        tmp_path, secret_key=KEY, allowed_hosts=".localhost,127.0.0.1"
    ) as server:
        yield server.port


def _get(port: int, path: str, host: str, https: bool = True) -> http.client.HTTPResponse:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=20)
    headers = {"Host": host}
    if https:
        headers["X-Forwarded-Proto"] = "https"
    conn.request("GET", path, headers=headers)
    return conn.getresponse()


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_gunicorn_serves_the_site_securely(production_server):
    network = network_make("Production Network")
    host = network.site.hostname

    plain = _get(production_server, "/accounts/login/", host, https=False)
    assert plain.status == 301
    assert plain.getheader("Location") == f"https://{host}/accounts/login/"

    login = _get(production_server, "/accounts/login/", host)
    body = login.read().decode()
    assert login.status == 200
    assert "max-age=31536000" in login.getheader("Strict-Transport-Security")
    assert login.getheader("X-Frame-Options") == "DENY"
    assert "Secure" in login.getheader("Set-Cookie")
    assert "HttpOnly" in login.getheader("Set-Cookie")
    css = body.split('href="/static/css/')[1].split('"')[0]
    assert css != "handoff.css", "static files are served under content-hashed names"

    static = _get(production_server, f"/static/css/{css}", host)
    assert static.status == 200
    assert "immutable" in static.getheader("Cache-Control")

    home = _get(production_server, "/", host)
    assert home.status == 200
    assert "Production Network" in home.read().decode()

    assert _get(production_server, "/accounts/login/", "evil.example.com").status == 400


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_the_access_log_never_carries_a_listing_verification_token(production_server, tmp_path):
    import time

    network = network_make("Logged Network")
    token = "eyJwIjo-not-a-real-token-" + "Q" * 24
    response = _get(production_server, f"/listings/verify/{token}/", network.site.hostname)
    response.read()
    assert response.status == 404
    log_path = tmp_path / "gunicorn.log"
    for _ in range(50):  # the access line is written just after the response
        if "/listings/verify/" in log_path.read_text():
            break
        time.sleep(0.1)
    log = log_path.read_text()
    assert "/listings/verify/<token>/" in log
    assert token not in log
