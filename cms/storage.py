"""Private file storage: files that hold client data (signed consent forms, signed agreements)
or a network's unpublished data (directory import packages, Wagtail uploads in progress).

They live in the ``private`` storage of ``STORAGES`` (a directory outside ``MEDIA_ROOT`` by
default, object storage later), under random names, and have no public URL: only views that check
the actor and log the download read them.
"""

from __future__ import annotations

import os
import uuid
from typing import Any

from django.core.files.storage import FileSystemStorage, Storage, storages
from django.db.models.fields.files import FieldFile

PRIVATE_STORAGE_ALIAS = "private"


def private_storage() -> Storage:
    """The ``private`` storage of ``STORAGES`` (a callable on the fields, so that each
    deployment, and the tests, choose it in settings)."""
    return storages[PRIVATE_STORAGE_ALIAS]


class PrivateFileSystemStorage(FileSystemStorage):
    """A directory on disk with no URL: never under ``MEDIA_URL``, never served by a web server."""

    def url(self, name: str | None) -> str:
        raise NotImplementedError("Private files have no URL; they are served by a view.")


def random_name(*, folder: str, extension: str) -> str:
    """``folder/<uuid4 hex>.<extension>``: nothing about the client or the original name."""
    return f"{folder}/{uuid.uuid4().hex}.{extension.lstrip('.').lower()}"


class DocumentFile(FieldFile):
    """Wagtail documents' (and uploads in progress) files: always in the private storage, saved
    under a random name."""

    @property
    def storage(self) -> Storage:
        return private_storage()

    @storage.setter
    def storage(self, value: Storage) -> None:
        """Django assigns the field's (public) storage here; the private one always wins."""

    def save(self, name: str, content: Any, save: bool = True) -> None:
        # The field's upload_to ("documents") is kept; only the name is replaced.
        extension = os.path.splitext(name)[1].lstrip(".").lower() or "bin"
        super().save(f"{uuid.uuid4().hex}.{extension}", content, save)


def documents_private() -> None:
    """Store Wagtail documents (signed data-sharing agreements) in private storage.

    Wagtail 8 has no setting for the documents' storage, and a custom document model would move
    every document row and permission; the field's file class (``FileField.attr_class``) is
    swapped instead, which leaves the field, and so the migrations of ``wagtaildocs``, unchanged.

    Wagtail's uploads in progress (``UploadedFile``: a multiple upload waiting for its form to be
    completed) are made private the same way: they are only ever opened, never linked to.
    """
    from wagtail.documents.models import Document
    from wagtail.models import UploadedFile

    for model in (Document, UploadedFile):
        field: Any = model._meta.get_field("file")
        field.attr_class = DocumentFile
