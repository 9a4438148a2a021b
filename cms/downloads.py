"""The one way a private file leaves the server: as a download nobody caches or sniffs."""

from __future__ import annotations

from typing import Any

from django.core.files import File
from django.http import FileResponse
from django.utils.cache import patch_cache_control


def private_file_response(*, file: File, filename: str, content_type: str) -> FileResponse:
    """``file`` as an attachment named ``filename``: never shown inline, never cached by a
    browser or proxy, never reinterpreted as another type (HTML, script)."""
    file.open("rb")
    response = FileResponse(file, as_attachment=True, filename=filename, content_type=content_type)
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Security-Policy"] = "default-src 'none'; sandbox"
    patch_cache_control(response, private=True, no_store=True)
    return response


# Text a spreadsheet would take for a formula (OWASP's CSV injection advice).
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def csv_cell(value: Any) -> Any:
    """The value as a spreadsheet will show it, never run it: text that a spreadsheet would
    take for a formula gets a leading apostrophe (OWASP's CSV injection advice)."""
    if value is None:
        return ""
    if isinstance(value, str) and value.startswith(FORMULA_PREFIXES):
        return "'" + value
    return value
