"""Copy the object-storage buckets to a directory and back (deploy/backup.sh, deploy/restore.sh).

    python deploy/object_backup.py backup  DIRECTORY   # every object -> DIRECTORY/<bucket>/<key>
    python deploy/object_backup.py restore DIRECTORY   # and back into the configured buckets
    python deploy/object_backup.py check   DIRECTORY   # may it be restored: the buckets empty

The buckets are the application's (cms/object_storage.py): AWS_STORAGE_BUCKET_NAME (public media)
and AWS_PRIVATE_BUCKET_NAME (consent forms, agreements, HSDS uploads; unset: the same bucket).
Credentials and address: AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY (or boto3's own chain),
AWS_S3_ENDPOINT_URL, AWS_S3_REGION_NAME, AWS_S3_ADDRESSING_STYLE. DIRECTORY/buckets.json records
which bucket held what and each object's content type, so that a restore can go into buckets of
other names (the current variables name them). Restored objects are written with the same
server-side encryption the application asks for (AWS_S3_SSE: on by default).

Needs boto3 only (no Django): it runs in the backup image and on an operator's machine alike.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

INDEX = "buckets.json"
OFF = frozenset({"0", "false", "no", "off"})
# Where private files live when they share the media bucket (cms/object_storage.py).
PRIVATE_PREFIX = "private/"


class BackupError(Exception):
    pass


def buckets_from_env(environ: Mapping[str, str]) -> dict[str, str]:
    """{role: bucket}: "media" and, when it is a bucket of its own, "private"."""
    media = environ.get("AWS_STORAGE_BUCKET_NAME", "").strip()
    if not media:
        raise BackupError("AWS_STORAGE_BUCKET_NAME is not set: there is no bucket to copy")
    private = environ.get("AWS_PRIVATE_BUCKET_NAME", "").strip() or media
    return {"media": media} if private == media else {"media": media, "private": private}


def client_from_env(environ: Mapping[str, str]) -> Any:
    import boto3
    from botocore.config import Config

    options: dict[str, Any] = {}
    if endpoint := environ.get("AWS_S3_ENDPOINT_URL", "").strip():
        options["endpoint_url"] = endpoint
    if region := environ.get("AWS_S3_REGION_NAME", "").strip():
        options["region_name"] = region
    style = environ.get("AWS_S3_ADDRESSING_STYLE", "").strip() or "auto"
    return boto3.client("s3", config=Config(s3={"addressing_style": style}), **options)


def encryption_from_env(environ: Mapping[str, str]) -> dict[str, str]:
    """The same choice as cms/object_storage.py: AES256 unless AWS_S3_SSE says otherwise."""
    sse = environ.get("AWS_S3_SSE", "").strip().lower()
    if sse in OFF:
        return {}
    if sse == "aws:kms":
        return {"ServerSideEncryption": "aws:kms"}
    return {"ServerSideEncryption": "AES256"}


def _local_path(root: Path, key: str) -> Path:
    """Where an object's key lands under root; refuses keys that would climb out of it."""
    parts = key.split("/")
    if any(part in {"", ".", ".."} for part in parts):
        raise BackupError(f"refusing an object key that is not a plain relative path: {key!r}")
    return root.joinpath(*parts)


def backup(directory: Path, environ: Mapping[str, str], client: Any = None) -> dict[str, Any]:
    """Every object of the configured buckets into directory/<bucket>/<key>; returns the index."""
    client = client or client_from_env(environ)
    index: dict[str, Any] = {"buckets": {}}
    for role, bucket in buckets_from_env(environ).items():
        root = directory / bucket
        root.mkdir(parents=True, exist_ok=True)
        objects: dict[str, dict[str, Any]] = {}
        for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket):
            for item in page.get("Contents", []):
                key = item["Key"]
                if key.endswith("/"):  # a "folder" marker, no content
                    continue
                target = _local_path(root, key)
                target.parent.mkdir(parents=True, exist_ok=True)
                answer = client.get_object(Bucket=bucket, Key=key)
                with target.open("wb") as out:
                    for chunk in answer["Body"].iter_chunks(1024 * 1024):
                        out.write(chunk)
                objects[key] = {
                    "size": target.stat().st_size,
                    "content_type": answer.get("ContentType") or "",
                }
        index["buckets"][role] = {"name": bucket, "objects": objects}
    (directory / INDEX).write_text(json.dumps(index, indent=1, sort_keys=True) + "\n")
    return index


def _index(directory: Path) -> dict[str, Any]:
    index_file = directory / INDEX
    if not index_file.exists():
        raise BackupError(f"{index_file} is missing: not an object backup")
    index: dict[str, Any] = json.loads(index_file.read_text())
    return index


def check(directory: Path, environ: Mapping[str, str], client: Any = None) -> None:
    """Refuse (BackupError) unless ``directory`` is an object backup and every configured bucket
    is empty: a restore into buckets that hold objects would mix the backup with what is there
    (deleted consent forms would come back beside newer files)."""
    _index(directory)
    client = client or client_from_env(environ)
    for bucket in sorted(set(buckets_from_env(environ).values())):
        listed = client.list_objects_v2(Bucket=bucket, MaxKeys=1).get("Contents", [])
        if listed:
            raise BackupError(
                f"the bucket {bucket} is not empty: restore into empty buckets "
                "(name them in AWS_STORAGE_BUCKET_NAME and AWS_PRIVATE_BUCKET_NAME)"
            )


def restore(directory: Path, environ: Mapping[str, str], client: Any = None) -> int:
    """Put every object of a backup back into the configured buckets; returns how many."""
    index = _index(directory)
    targets = buckets_from_env(environ)
    client = client or client_from_env(environ)
    extra = encryption_from_env(environ)
    count = 0
    for role, saved in index["buckets"].items():
        for key, facts in saved["objects"].items():
            source = _local_path(directory / saved["name"], key)
            bucket, target_key = _target(role, key, targets, shared=len(index["buckets"]) == 1)
            arguments = dict(extra)
            if facts.get("content_type"):
                arguments["ContentType"] = facts["content_type"]
            with source.open("rb") as body:
                client.put_object(Bucket=bucket, Key=target_key, Body=body, **arguments)
            count += 1
    return count


def _target(role: str, key: str, targets: Mapping[str, str], *, shared: bool) -> tuple[str, str]:
    """Where a saved object goes when the buckets now are split or shared otherwise than then:
    a shared bucket keeps private files under private/ (cms/object_storage.py)."""
    if role == "private" and "private" not in targets:  # separate then, shared now
        return targets["media"], PRIVATE_PREFIX + key
    if shared and "private" in targets and key.startswith(PRIVATE_PREFIX):  # shared then
        return targets["private"], key.removeprefix(PRIVATE_PREFIX)
    return targets[role], key


def main(argv: Sequence[str]) -> int:
    if len(argv) != 2 or argv[0] not in {"backup", "restore", "check"}:
        sys.stderr.write("usage: object_backup.py backup|restore|check DIRECTORY\n")
        return 2
    command, directory = argv[0], Path(argv[1])
    try:
        if command == "backup":
            directory.mkdir(parents=True, exist_ok=True)
            index = backup(directory, os.environ)
            counts = ", ".join(
                f"{saved['name']}: {len(saved['objects'])}" for saved in index["buckets"].values()
            )
            sys.stdout.write(f"objects copied ({counts})\n")
        elif command == "check":
            check(directory, os.environ)
        else:
            sys.stdout.write(f"objects restored: {restore(directory, os.environ)}\n")
    except BackupError as error:
        sys.stderr.write(f"object_backup.py: {error}\n")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
