"""Signed consent forms: what is accepted (checked by content, not by name) and where it is kept.

A form is a PDF or a photo (PNG or JPEG) no larger than ``HANDOFF_PRIVATE_UPLOAD_MAX_BYTES``; it
is stored in the private storage under a random name whose extension comes from its content.
"""

from __future__ import annotations

from typing import IO, Any

import filetype
from django.conf import settings
from django.core.exceptions import ValidationError
from django.template.defaultfilters import filesizeformat
from django.utils.translation import gettext as _

from cms.storage import random_name

# Detected MIME type → the extension the stored file gets.
SIGNED_FORM_TYPES: dict[str, str] = {
    "application/pdf": "pdf",
    "image/png": "png",
    "image/jpeg": "jpg",
}
CONTENT_TYPES: dict[str, str] = {ext: mime for mime, ext in SIGNED_FORM_TYPES.items()}
# filetype reads at most this many bytes to recognise a file.
_SIGNATURE_BYTES = 8192


def signed_form_type(upload: IO[bytes] | Any) -> str:
    """The extension (pdf, png or jpg) of an uploaded signed form, read from its first bytes.

    Raises ValidationError (code ``file_size`` or ``file_type``) for a file that is too large,
    empty, or not a PDF, PNG or JPEG, whatever its name says.
    """
    limit = settings.HANDOFF_PRIVATE_UPLOAD_MAX_BYTES
    size = getattr(upload, "size", None)
    if size is not None and size > limit:
        raise ValidationError(
            _("The file is larger than %(limit)s.") % {"limit": filesizeformat(limit)},
            code="file_size",
        )
    upload.seek(0)
    head = upload.read(_SIGNATURE_BYTES)
    upload.seek(0)
    kind = filetype.guess(head) if head else None
    if kind is None or kind.mime not in SIGNED_FORM_TYPES:
        raise ValidationError(
            _("The file is not a PDF, PNG or JPEG image (its content was checked, not its name)."),
            code="file_type",
        )
    return SIGNED_FORM_TYPES[kind.mime]


def signed_form_upload_to(instance: Any, filename: str) -> str:
    """``consent/forms/<uuid>.<ext>``: the original name is never part of the stored path (the
    caller passes a name whose extension comes from the content)."""
    extension = filename.rsplit(".", 1)[-1] if "." in filename else "bin"
    return random_name(folder="consent/forms", extension=extension)


def content_type_for(name: str) -> str:
    """The MIME type of a stored signed form, from the extension its content gave it."""
    extension = name.rsplit(".", 1)[-1].lower() if "." in name else ""
    return CONTENT_TYPES.get(extension, "application/octet-stream")


# Wagtail documents (signed agreements and the like): the content a name's extension must have.
# Office and OpenDocument files are zip archives; text files must not be a known binary type.
DOCUMENT_SIGNATURES: dict[str, frozenset[str]] = {
    "pdf": frozenset({"pdf"}),
    "docx": frozenset({"zip", "docx"}),
    "xlsx": frozenset({"zip", "xlsx"}),
    "odt": frozenset({"zip", "odt"}),
    "zip": frozenset({"zip"}),
}
TEXT_EXTENSIONS = frozenset({"csv", "txt"})


def document_content_check(upload: IO[bytes] | Any, extension: str) -> None:
    """Refuse a document whose content is not what its extension says (an HTML page named
    ``.pdf``, a program named ``.txt``). Raises ValidationError (code ``file_type``)."""
    upload.seek(0)
    head = upload.read(_SIGNATURE_BYTES)
    upload.seek(0)
    kind = filetype.guess(head) if head else None
    extension = extension.lower()
    if extension in DOCUMENT_SIGNATURES:
        ok = kind is not None and kind.extension in DOCUMENT_SIGNATURES[extension]
    elif extension in TEXT_EXTENSIONS:
        text = head.lstrip().lower()
        ok = kind is None and b"\x00" not in head and not text.startswith((b"<!doctype", b"<html"))
    else:
        ok = True  # WAGTAILDOCS_EXTENSIONS refuses the rest
    if not ok:
        raise ValidationError(
            _("The file's content is not a %(extension)s file.") % {"extension": extension},
            code="file_type",
        )
