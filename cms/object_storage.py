"""Object storage (S3 or any S3-compatible server) for uploads, chosen from the environment.

``AWS_STORAGE_BUCKET_NAME`` set: public media (images and their renditions) go to that bucket
under ``media/``, and private files (signed consent forms and agreements, Wagtail documents, HSDS
import packages) to ``AWS_PRIVATE_BUCKET_NAME``, or to the same bucket under ``private/``, with no
URL at all (``cms.s3_storage.PrivateS3Storage``). Unset: the local filesystem, as before.

Only the settings are built here (no boto3 import), so that settings modules and tests can call
``storages_from_env`` cheaply.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from django.core.exceptions import ImproperlyConfigured

PUBLIC_S3_BACKEND = "storages.backends.s3.S3Storage"
PRIVATE_S3_BACKEND = "cms.s3_storage.PrivateS3Storage"
PUBLIC_LOCATION = "media"
# Where private files go when they share the public bucket (a separate bucket is better).
SHARED_BUCKET_PRIVATE_LOCATION = "private"
OFF = frozenset({"0", "false", "no", "off"})


def storages_from_env(
    *, environ: Mapping[str, str], private_root: Path, staticfiles_backend: str
) -> dict[str, dict[str, Any]]:
    """The ``STORAGES`` setting: S3 buckets when ``AWS_STORAGE_BUCKET_NAME`` is set in
    ``environ``, else the local filesystem (``MEDIA_ROOT`` and ``private_root``)."""
    bucket = environ.get("AWS_STORAGE_BUCKET_NAME", "").strip()
    if not bucket:
        return {
            "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
            "staticfiles": {"BACKEND": staticfiles_backend},
            "private": {
                "BACKEND": "cms.storage.PrivateFileSystemStorage",
                "OPTIONS": {"location": private_root},
            },
        }
    private_bucket = environ.get("AWS_PRIVATE_BUCKET_NAME", "").strip() or bucket
    shared: dict[str, Any] = {
        # Random or Wagtail-chosen names: never replace another file that happens to share one.
        "file_overwrite": False,
        # No ACL header: objects stay as private as the bucket (and buckets that forbid ACLs work).
        "default_acl": None,
        "object_parameters": _object_parameters(environ),
        # Signature version 4 for signed media URLs (version 2 is refused in newer regions).
        "signature_version": "s3v4",
    }
    for option, variable in (
        ("endpoint_url", "AWS_S3_ENDPOINT_URL"),
        ("region_name", "AWS_S3_REGION_NAME"),
        ("access_key", "AWS_ACCESS_KEY_ID"),
        ("secret_key", "AWS_SECRET_ACCESS_KEY"),
        ("addressing_style", "AWS_S3_ADDRESSING_STYLE"),
    ):
        # Unset: boto3's own chain (an instance role, a profile) supplies it.
        if value := environ.get(variable, "").strip():
            shared[option] = value
    public: dict[str, Any] = {**shared, "bucket_name": bucket, "location": PUBLIC_LOCATION}
    if custom_domain := environ.get("AWS_S3_CUSTOM_DOMAIN", "").strip():
        # A CDN or a public-read prefix serves media: plain URLs, no signature.
        public["custom_domain"] = custom_domain
    else:
        # The bucket is private: images get short-lived signed URLs.
        public["querystring_auth"] = True
    private: dict[str, Any] = {
        **shared,
        "bucket_name": private_bucket,
        "location": SHARED_BUCKET_PRIVATE_LOCATION if private_bucket == bucket else "",
        "querystring_auth": False,
    }
    return {
        "default": {"BACKEND": PUBLIC_S3_BACKEND, "OPTIONS": public},
        "staticfiles": {"BACKEND": staticfiles_backend},
        "private": {"BACKEND": PRIVATE_S3_BACKEND, "OPTIONS": private},
    }


def _object_parameters(environ: Mapping[str, str]) -> dict[str, str]:
    sse = environ.get("AWS_S3_SSE", "").strip()
    if sse.lower() in OFF:
        return {}
    if sse.lower() in {"", "1", "on", "true", "yes", "aes256"}:
        return {"ServerSideEncryption": "AES256"}
    if sse.lower() == "aws:kms":
        return {"ServerSideEncryption": "aws:kms"}
    raise ImproperlyConfigured(f"AWS_S3_SSE must be on, off, AES256 or aws:kms, got {sse!r}")
