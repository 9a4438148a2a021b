"""Logging filters: secrets that travel in a URL path never reach the logs."""

from __future__ import annotations

import logging
import re

# The emailed listing-verification link (directory/urls.py) carries a signed token in its path;
# deploy/gunicorn.conf.py redacts the same pattern from the access log.
SECRET_PATHS = re.compile(r"(/listings/verify/)[^/\s]+/")


def redact(text: str) -> str:
    """``text`` with every secret path segment replaced by ``<token>``."""
    return SECRET_PATHS.sub(r"\1<token>/", text)


class SecretPathsRedacted(logging.Filter):
    """Rewrites log records (message and arguments) so that they never carry a secret path,
    e.g. Django's "Not Found: /listings/verify/<token>/" warnings."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str):
            record.msg = redact(record.msg)
        if isinstance(record.args, tuple):
            record.args = tuple(redact(a) if isinstance(a, str) else a for a in record.args)
        elif isinstance(record.args, dict):
            record.args = {
                key: redact(value) if isinstance(value, str) else value
                for key, value in record.args.items()
            }
        return True
