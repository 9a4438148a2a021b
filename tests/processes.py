"""Helpers for tests that start real processes (Celery worker, gunicorn) on the test database."""

from __future__ import annotations

import os
import socket
import socketserver
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from django.db import connection

ROOT = Path(__file__).resolve().parents[1]


@contextmanager
def served(server: socketserver.BaseServer) -> Iterator[None]:
    """``server`` answering from a thread of its own for the block, then stopped and closed.

    It looks for the stop every 50 ms: at the default half second, each test whose server
    stopped waited that long in its teardown."""
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
    )
    thread.start()
    try:
        yield
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def database_url() -> str:
    """The URL of the database this test runs on, for a child process to open."""
    s = connection.settings_dict
    if s["ENGINE"].endswith("sqlite3"):
        return f"sqlite:///{s['NAME']}"
    auth = s["USER"] + (f":{s['PASSWORD']}" if s["PASSWORD"] else "")
    return f"postgres://{auth}@{s['HOST'] or '127.0.0.1'}:{s['PORT'] or 5432}/{s['NAME']}"


def port_open(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1):
            return True
    except OSError:
        return False


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for_port(host: str, port: int, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if port_open(host, port):
            return True
        time.sleep(0.2)
    return False


@dataclass
class Gunicorn:
    port: int
    log: Path  # gunicorn's stdout and stderr
    env: dict[str, str] = field(default_factory=dict)


@contextmanager
def production_gunicorn(
    tmp_path: Path, *, secret_key: str, allowed_hosts: str, **env: str
) -> Iterator[Gunicorn]:
    """gunicorn as deployed (``deploy/gunicorn.conf.py``, production settings, one worker, the
    static files collected) on a free port and this test's database, for the block. ``env``
    adds or replaces variables; a value of "" removes one."""
    port = free_port()
    environ = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "cms.settings.production",
        "SECRET_KEY": secret_key,
        "ALLOWED_HOSTS": allowed_hosts,
        "CELERY_BROKER_URL": "redis://127.0.0.1:6379/15",
        "WAGTAILADMIN_BASE_URL": "https://handoff.example.org",
        "DATABASE_URL": database_url(),
        "STATIC_ROOT": str(tmp_path / "static"),
        "GUNICORN_BIND": f"127.0.0.1:{port}",
        "GUNICORN_WORKERS": "1",
        **env,
    }
    environ = {name: value for name, value in environ.items() if value != ""}
    subprocess.run(
        [sys.executable, "manage.py", "collectstatic", "--noinput", "-v0"],
        cwd=ROOT,
        env=environ,
        check=True,
        timeout=300,
        capture_output=True,
    )
    log_path = tmp_path / "gunicorn.log"
    with log_path.open("w") as log:
        server = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "-c", "deploy/gunicorn.conf.py"],
            cwd=ROOT,
            env=environ,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            if not wait_for_port("127.0.0.1", port, 60):
                pytest.fail(f"gunicorn did not start:\n{log_path.read_text()[-3000:]}")
            yield Gunicorn(port=port, log=log_path, env=environ)
        finally:
            server.terminate()
            server.wait(timeout=20)
