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


def hsds_extra_field() -> models.JSONField:
    """What an HSDS object carried that Handoff does not model, kept so that export and the
    HSDS API give it back: a dict of HSDS 3.0 property names of this object (``contacts``,
    ``funding``, ``program``, ``organization_identifiers``, ``accessibility``, ``metadata``,
    ``additional_urls``, ...) to their HSDS JSON values, written by the importer and the feed
    sync, read by ``directory.hsds`` serializers. Keys starting with ``x_`` are Handoff's own
    (``x_original_id``: the id as the source published it, when it was not a UUID) and are not
    emitted as HSDS properties."""
    return models.JSONField(_("other HSDS data"), default=dict, blank=True, editable=False)
