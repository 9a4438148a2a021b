"""Search backends, chosen in settings the way Wagtail chooses its search backends.

``HANDOFF_SEARCH_BACKENDS = {"default": {"BACKEND": "search.backends.database"}, ...}``; each
entry names a module with a ``SearchBackend`` class, plus that backend's own options.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.core.signals import setting_changed
from django.dispatch import receiver
from django.utils.module_loading import import_string

from .base import SearchBackend, SearchBackendUnavailable, Suggestion

__all__ = [
    "SearchBackend",
    "SearchBackendUnavailable",
    "Suggestion",
    "get_search_backend",
    "search_backends",
]

DEFAULT = {"default": {"BACKEND": "search.backends.database"}}


def _config() -> dict[str, dict[str, Any]]:
    return getattr(settings, "HANDOFF_SEARCH_BACKENDS", None) or DEFAULT


@cache
def get_search_backend(alias: str = "default") -> SearchBackend:
    """The backend configured under ``alias`` (one instance per process)."""
    config = _config()
    if alias not in config:
        raise ImproperlyConfigured(f"HANDOFF_SEARCH_BACKENDS has no {alias!r} entry")
    params = dict(config[alias])
    path = params.pop("BACKEND", "")
    try:
        backend_class = import_string(f"{path}.SearchBackend")
    except ImportError as exc:
        raise ImproperlyConfigured(f"Search backend {path!r} cannot be imported: {exc}") from exc
    backend: SearchBackend = backend_class(params)
    return backend


def search_backends() -> list[SearchBackend]:
    """Every configured backend (indexing reaches them all)."""
    return [get_search_backend(alias) for alias in _config()]


@receiver(setting_changed)
def _reset(*, setting: str, **kwargs: Any) -> None:
    if setting == "HANDOFF_SEARCH_BACKENDS":
        get_search_backend.cache_clear()
