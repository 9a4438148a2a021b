"""The Wagtail document form, which also checks a file's content, not only its name."""

from __future__ import annotations

import os
from typing import Any

from wagtail.documents.forms import BaseDocumentForm

from .files import document_content_check


class DocumentForm(BaseDocumentForm):
    """Wagtail's document form (``WAGTAILDOCS_DOCUMENT_FORM_BASE``): an upload's content must
    match its extension (an HTML page named ``.pdf`` is refused)."""

    def clean_file(self) -> Any:
        upload = self.cleaned_data.get("file")
        if upload is not None and "file" in self.changed_data:
            extension = os.path.splitext(upload.name or "")[1].lstrip(".")
            document_content_check(upload, extension)
        return upload
