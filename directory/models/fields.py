"""The HSDS id every directory model keeps."""

from __future__ import annotations

import uuid

from django.db import models
from django.utils.translation import gettext_lazy as _


def _hsds_id() -> uuid.UUID:
    return uuid.uuid4()


def hsds_id_field() -> models.UUIDField:
    """Every HSDS entity keeps its id, so an export re-imports onto the same rows."""
    return models.UUIDField(_("HSDS id"), default=_hsds_id, db_index=True, editable=False)
