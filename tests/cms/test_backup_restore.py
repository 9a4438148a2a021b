"""deploy/backup.sh and deploy/restore.sh: a backup restored into an empty database holds every
referral and its timeline, and the uploaded files; a damaged backup or a database that is not
empty is refused. deploy/object_backup.py copies buckets to a directory and back (moto's S3).

The scripts run pg_dump, pg_restore and psql against the test database: PostgreSQL only.
"""

import os
import shutil
import subprocess
import sys
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import quote

import psycopg
import pytest
from django.db import connection
from psycopg import sql

from referrals.models import Referral, ReferralEvent
from tests.cms.s3_support import moto_server, s3_client
from tests.referrals.factories import move

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"


def _require_postgresql() -> None:
    if connection.vendor != "postgresql":
        pytest.skip(
            "backup.sh and restore.sh use pg_dump and pg_restore: run with "
            "DATABASE_URL=postgres://... (make test does in CI)"
        )
    for tool in ("pg_dump", "pg_restore", "psql", "sha256sum"):
        if shutil.which(tool) is None:
            pytest.skip(f"{tool} is not installed")


def _url(database: str) -> str:
    settings = connection.settings_dict
    user = quote(settings["USER"] or "", safe="")
    password = f":{quote(settings['PASSWORD'], safe='')}" if settings["PASSWORD"] else ""
    host = settings["HOST"] or "127.0.0.1"
    port = f":{settings['PORT']}" if settings["PORT"] else ""
    return f"postgres://{user}{password}@{host}{port}/{database}"


def _run(script: str, *args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["/bin/bash", str(DEPLOY / script), *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


@pytest.fixture
def scratch_database() -> Iterator[str]:
    """An empty database beside the test database, dropped afterwards."""
    with _scratch_database() as name:
        yield name


@contextmanager
def _scratch_database() -> Iterator[str]:
    _require_postgresql()
    name = f"handoff_restore_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(_url("postgres"), autocommit=True) as admin:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        yield name
    finally:
        with psycopg.connect(_url("postgres"), autocommit=True) as admin:
            admin.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )


def _environment(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("AWS_", "PG")) and key != "DATABASE_URL"
    }
    return {**env, "PYTHON": sys.executable, **extra}


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_a_backup_restores_into_an_empty_database(tmp_path: Path, scratch_database: str) -> None:
    from tests.referrals.factories import loop_make_clocked

    loop = loop_make_clocked("Backup", clocked=False)
    referrals = [
        loop.send(key="backup-1"),
        loop.send(loop.housing, key="backup-2", note="Behind on rent since June."),
        loop.send(key="backup-3"),
    ]
    move(referrals[0], "accepted", by=loop.agency_staff, organization=loop.food_agency)
    expected = {
        referral.pk: ReferralEvent.objects.filter(referral=referral).count()
        for referral in referrals
    }
    assert expected[referrals[0].pk] > expected[referrals[2].pk]

    media, private = tmp_path / "media", tmp_path / "private"
    (media / "images").mkdir(parents=True)
    (media / "images" / "logo.png").write_bytes(b"\x89PNG not really")
    (private / "consents").mkdir(parents=True)
    (private / "consents" / "a1b2c3.pdf").write_bytes(b"%PDF-1.7 signed consent")
    backups = tmp_path / "backups"
    env = _environment(
        tmp_path,
        DATABASE_URL=_url(connection.settings_dict["NAME"]),
        BACKUP_DIR=str(backups),
        MEDIA_ROOT=str(media),
        PRIVATE_ROOT=str(private),
    )

    made = _run("backup.sh", env=env)
    assert made.returncode == 0, made.stderr
    (backup,) = backups.iterdir()
    assert made.stdout.strip() == str(backup)
    assert {"database.dump", "MANIFEST.sha256", "backup.info", "files"} <= {
        p.name for p in backup.iterdir()
    }
    manifest = (backup / "MANIFEST.sha256").read_text()
    for name in ("./database.dump", "./files/media.tar", "./files/private.tar"):
        assert f"  {name}\n" in manifest

    restored_media, restored_private = tmp_path / "restored-media", tmp_path / "restored-private"
    restore_env = {
        **env,
        "DATABASE_URL": _url(scratch_database),
        "MEDIA_ROOT": str(restored_media),
        "PRIVATE_ROOT": str(restored_private),
    }
    done = _run("restore.sh", str(backup), env=restore_env)
    assert done.returncode == 0, done.stderr

    referral_table = Referral._meta.db_table
    event_table = ReferralEvent._meta.db_table
    with psycopg.connect(_url(scratch_database)) as restored:
        ids = {
            row[0]
            for row in restored.execute(
                sql.SQL("SELECT id FROM {}").format(sql.Identifier(referral_table))
            )
        }
        assert set(expected) <= ids
        for pk, count in expected.items():
            (events,) = restored.execute(
                sql.SQL("SELECT count(*) FROM {} WHERE referral_id = %s").format(
                    sql.Identifier(event_table)
                ),
                [pk],
            ).fetchone()  # type: ignore[misc]
            assert events == count, pk
        (note,) = restored.execute(
            sql.SQL("SELECT note FROM {} WHERE id = %s").format(sql.Identifier(referral_table)),
            [referrals[1].pk],
        ).fetchone()  # type: ignore[misc]
        assert note == "Behind on rent since June."
        # The audit trail's append-only triggers come back with the tables.
        (triggers,) = restored.execute(
            "SELECT count(*) FROM pg_trigger WHERE tgrelid = %s::regclass AND NOT tgisinternal",
            [event_table],
        ).fetchone()  # type: ignore[misc]
        assert triggers > 0
    assert (restored_media / "images" / "logo.png").read_bytes() == b"\x89PNG not really"
    consent = restored_private / "consents" / "a1b2c3.pdf"
    assert consent.read_bytes() == b"%PDF-1.7 signed consent"

    # Into a database that is not empty (the one just restored): refused, nothing changed.
    again = _run("restore.sh", str(backup), env=restore_env)
    assert again.returncode != 0
    assert "restore into an empty one" in again.stderr

    # Into an empty database but folders that hold files (the ones just restored): refused
    # before pg_restore, so that the same restore can be run again once the folders are right.
    with _scratch_database() as empty:
        crowded = _run("restore.sh", str(backup), env={**restore_env, "DATABASE_URL": _url(empty)})
        assert crowded.returncode == 1
        assert f"{restored_media} is not empty" in crowded.stderr
        with psycopg.connect(_url(empty)) as still_empty:
            (tables,) = still_empty.execute(
                "SELECT count(*) FROM pg_tables WHERE schemaname = 'public'"
            ).fetchone()  # type: ignore[misc]
        assert tables == 0

    # Files from a filesystem while a bucket is configured: refused before the database is read
    # (a restore failing after pg_restore could not be run again into the same database).
    mixed = _run(
        "restore.sh",
        str(backup),
        env={
            **restore_env,
            "DATABASE_URL": _url("no_such_database"),
            "AWS_STORAGE_BUCKET_NAME": "handoff-media",
        },
    )
    assert mixed.returncode == 1
    assert "unset it to restore them into MEDIA_ROOT and PRIVATE_ROOT" in mixed.stderr

    # A damaged backup restores nothing: the manifest is checked before the database is touched.
    damaged = tmp_path / "damaged"
    shutil.copytree(backup, damaged)
    with (damaged / "files" / "private.tar").open("ab") as tar:
        tar.write(b"\0")
    refused = _run(
        "restore.sh", str(damaged), env={**restore_env, "DATABASE_URL": _url("no_such_database")}
    )
    assert refused.returncode != 0
    assert "does not match its manifest" in refused.stderr
    # A file slipped into a backup after it was made is refused too.
    shutil.copy(backup / "files" / "private.tar", damaged / "files" / "private.tar")
    (damaged / "files" / "extra.tar").write_bytes(b"")
    slipped = _run(
        "restore.sh", str(damaged), env={**restore_env, "DATABASE_URL": _url("no_such_database")}
    )
    assert slipped.returncode != 0
    assert "files not in the manifest: ./files/extra.tar" in slipped.stderr


def test_restore_refuses_what_is_not_a_backup(tmp_path: Path) -> None:
    if shutil.which("sha256sum") is None:
        pytest.skip("sha256sum is not installed")
    env = _environment(tmp_path, DATABASE_URL="postgres://127.0.0.1:1/none")
    refused = _run("restore.sh", str(tmp_path), env=env)
    assert refused.returncode == 1
    assert "is not a backup" in refused.stderr


def test_backup_needs_its_settings(tmp_path: Path) -> None:
    refused = _run("backup.sh", env=_environment(tmp_path, BACKUP_DIR=str(tmp_path)))
    assert refused.returncode != 0
    assert "DATABASE_URL must name the database to back up" in refused.stderr


# --- deploy/object_backup.py against an S3 server (moto) ---------------------------------------


@pytest.fixture
def s3_server() -> Iterator[str]:
    with moto_server() as endpoint:
        yield endpoint


_s3 = s3_client


def _bucket_env(endpoint: str, media: str, private: str = "") -> dict[str, str]:
    return {
        "AWS_STORAGE_BUCKET_NAME": media,
        "AWS_PRIVATE_BUCKET_NAME": private,
        "AWS_S3_ENDPOINT_URL": endpoint,
        "AWS_S3_REGION_NAME": "us-east-1",
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
    }


def _objects(client: Any, bucket: str) -> dict[str, bytes]:
    listed = client.list_objects_v2(Bucket=bucket).get("Contents", [])
    return {
        item["Key"]: client.get_object(Bucket=bucket, Key=item["Key"])["Body"].read()
        for item in listed
    }


def test_buckets_are_copied_and_restored(
    s3_server: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    import runpy

    module = runpy.run_path(str(DEPLOY / "object_backup.py"))
    client = _s3(s3_server)
    for bucket in ("media", "private", "media-restored", "private-restored", "shared"):
        client.create_bucket(Bucket=bucket)
    client.put_object(
        Bucket="media", Key="media/images/a.png", Body=b"png", ContentType="image/png"
    )
    client.put_object(
        Bucket="private", Key="consents/x.pdf", Body=b"pdf", ContentType="application/pdf"
    )
    client.put_object(Bucket="private", Key="hsds/2026/import.zip", Body=b"zip")
    for key, value in _bucket_env(s3_server, "media", "private").items():
        monkeypatch.setenv(key, value)

    assert module["main"](["backup", str(tmp_path / "objects")]) == 0
    assert (tmp_path / "objects" / "private" / "consents" / "x.pdf").read_bytes() == b"pdf"
    assert (tmp_path / "objects" / "buckets.json").exists()

    # Into buckets of other names.
    for key, value in _bucket_env(s3_server, "media-restored", "private-restored").items():
        monkeypatch.setenv(key, value)
    assert module["main"](["restore", str(tmp_path / "objects")]) == 0
    assert _objects(client, "media-restored") == {"media/images/a.png": b"png"}
    assert _objects(client, "private-restored") == {
        "consents/x.pdf": b"pdf",
        "hsds/2026/import.zip": b"zip",
    }
    head = client.head_object(Bucket="private-restored", Key="consents/x.pdf")
    assert head["ContentType"] == "application/pdf"

    # restore.sh asks first whether the buckets are empty: these now are not.
    assert module["main"](["check", str(tmp_path / "objects")]) == 1
    assert "the bucket media-restored is not empty" in capsys.readouterr().err
    for key, value in _bucket_env(s3_server, "shared").items():
        monkeypatch.setenv(key, value)
    assert module["main"](["check", str(tmp_path / "objects")]) == 0
    assert module["main"](["check", str(tmp_path)]) == 1  # not an object backup

    # Into one shared bucket: private files under private/, as cms/object_storage.py keeps them.
    for key, value in _bucket_env(s3_server, "shared").items():
        monkeypatch.setenv(key, value)
    assert module["main"](["restore", str(tmp_path / "objects")]) == 0
    assert set(_objects(client, "shared")) == {
        "media/images/a.png",
        "private/consents/x.pdf",
        "private/hsds/2026/import.zip",
    }


def test_object_keys_never_climb_out_of_the_backup(tmp_path: Path) -> None:
    import runpy

    module = runpy.run_path(str(DEPLOY / "object_backup.py"))
    for key in ("../etc/passwd", "/abs", "a/../../b", "./x"):
        with pytest.raises(module["BackupError"]):
            module["_local_path"](tmp_path, key)
    assert module["_local_path"](tmp_path, "a/b.pdf") == tmp_path / "a" / "b.pdf"
