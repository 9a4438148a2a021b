"""What a web process builds on its first requests, built before it serves any.

gunicorn imports the application once, in its master process (``preload_app``, in
deploy/gunicorn.conf.py), and forks every worker from it; ``warm`` runs there, after the import
and before the first fork. A worker, the first one or one started when another reached
``max_requests``, then starts with the URL patterns resolved, every project template compiled
(the cached loader), and every language's catalogue and formats loaded: nothing of that is paid
again in a request, nor once a worker.

Nothing here reads the database or the cache, and no connection is left open: a connection
opened in the master would be shared by every worker forked from it.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path
from typing import cast

from django.apps import apps
from django.conf import settings
from django.db import connections
from django.template import TemplateSyntaxError
from django.template.loader import get_template
from django.urls import get_resolver
from django.utils import translation
from django.utils.formats import get_format

logger = logging.getLogger(__name__)

# Any text: asking for its translation loads the language's catalogues (a name, not a literal,
# so that makemessages does not take it for one of this file's texts).
PROBE = "Referral"
FORMATS = ("DATE_FORMAT", "DATETIME_FORMAT", "SHORT_DATE_FORMAT", "TIME_FORMAT")


def project_templates() -> Iterator[str]:
    """The names of the project's own templates (its template folder and its apps'), not those
    of the packages it uses."""
    base = Path(settings.BASE_DIR).resolve()
    dirs = cast(list[str | Path], settings.TEMPLATES[0]["DIRS"])
    folders = [Path(folder) for folder in dirs]
    folders += [Path(config.path) / "templates" for config in apps.get_app_configs()]
    for folder in folders:
        folder = folder.resolve()
        if not folder.is_dir() or base not in folder.parents or ".venv" in folder.parts:
            continue
        for path in sorted(folder.rglob("*")):
            if path.suffix in {".html", ".txt", ".xml"} and path.is_file():
                yield path.relative_to(folder).as_posix()


def warm() -> int:
    """Resolve the URL patterns, compile the project's templates and load every language's
    catalogue and formats; the number of templates compiled."""
    get_resolver().reverse_dict  # noqa: B018 - the patterns are resolved on first use
    for code, _name in settings.LANGUAGES:
        with translation.override(code):
            translation.gettext(PROBE)  # loads the language's catalogues
            for name in FORMATS:
                get_format(name)
            get_resolver().reverse_dict  # noqa: B018 - kept per language
    compiled = 0
    for name in project_templates():
        try:
            get_template(name)
        except TemplateSyntaxError:
            # A broken template fails where it is used, as it would without this.
            logger.exception("template %s does not compile", name)
        else:
            compiled += 1
    connections.close_all()
    return compiled
