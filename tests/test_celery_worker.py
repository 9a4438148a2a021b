"""Background work on the production path: a real Celery worker process fed through Redis.

The service queues the task after its transaction commits; a separate ``celery worker`` process
takes it from the local Redis broker, reads the committed data from the test database and sends
the email (to a file, so this test can read it).
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from cms.celery import app
from network import services
from network.models import Role
from tests.network.factories import UserFactory, network_make, organization_make
from tests.processes import database_url, port_open

ROOT = Path(__file__).resolve().parents[1]
REDIS = ("127.0.0.1", 6379)
BROKER_URL = "redis://127.0.0.1:6379/15"


@pytest.fixture
def celery_worker(tmp_path):
    if not port_open(*REDIS):
        message = f"Redis is not reachable at {REDIS[0]}:{REDIS[1]}"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message + " (start it to run the real-worker test)")
    queue = f"handoff-test-{uuid.uuid4().hex[:12]}"
    mail_dir = tmp_path / "mail"
    mail_dir.mkdir()
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "cms.settings.test",
        "DATABASE_URL": database_url(),
        "CELERY_BROKER_URL": BROKER_URL,
        "CELERY_TASK_DEFAULT_QUEUE": queue,
        "EMAIL_BACKEND": "django.core.mail.backends.filebased.EmailBackend",
        "EMAIL_FILE_PATH": str(mail_dir),
    }
    log = (tmp_path / "worker.log").open("w+")
    worker = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "cms",
            "worker",
            "--pool=solo",
            "-Q",
            queue,
            "--loglevel=INFO",
            "--without-gossip",
            "--without-mingle",
            "--without-heartbeat",
        ],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    saved = {k: app.conf[k] for k in ("task_always_eager", "broker_url", "task_default_queue")}
    app.conf.update(task_always_eager=False, broker_url=BROKER_URL, task_default_queue=queue)
    try:
        yield mail_dir, log
    finally:
        app.conf.update(saved)
        worker.terminate()
        try:
            worker.wait(timeout=20)
        except subprocess.TimeoutExpired:
            worker.kill()
        log.close()


@pytest.mark.celery_worker
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_real_worker_sends_the_membership_email(celery_worker):
    mail_dir, log = celery_worker
    network = network_make("Worker Network")
    clinic = organization_make(network, "clinic", name="Worker Test Clinic")
    person = UserFactory(email="worker.test@example.org")

    services.membership_grant(user=person, role=Role.CLINIC_STAFF, organization=clinic)

    # The email is written while the task runs; the worker logs "succeeded" after it returns.
    # Wait for both: reading the log as soon as the email appears raced the worker.
    deadline = time.monotonic() + 60
    messages: list[Path] = []
    worker_output = ""
    while time.monotonic() < deadline and not (messages and "succeeded" in worker_output):
        time.sleep(0.25)
        messages = list(mail_dir.glob("*.log"))
        log.seek(0)
        worker_output = log.read()
    assert messages, f"no email delivered within 60 s; worker said:\n{worker_output[-3000:]}"
    body = messages[0].read_text()
    assert "To: worker.test@example.org" in body
    assert "Worker Test Clinic" in body
    assert "membership_notify_granted" in worker_output
    assert "succeeded" in worker_output
