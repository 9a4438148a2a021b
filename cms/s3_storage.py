"""S3 storage for private files: the object storage counterpart of ``PrivateFileSystemStorage``
(imported only when ``STORAGES`` names it, so that boto3 loads only where buckets are used)."""

from __future__ import annotations

from typing import Any

from storages.backends.s3 import S3Storage


class PrivateS3Storage(S3Storage):
    """A private bucket (or prefix) with no URL, signed or not: files that hold client data leave
    only through the views that check the reader and log the download."""

    def url(
        self,
        name: str | None,
        parameters: Any = None,
        expire: Any = None,
        http_method: Any = None,
    ) -> str:
        raise NotImplementedError("Private files have no URL; they are served by a view.")
