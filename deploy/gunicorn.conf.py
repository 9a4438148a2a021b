"""gunicorn settings for the web processes; every value can be overridden from the environment."""

import multiprocessing
import os
import re

from gunicorn.glogging import Logger

bind = os.environ.get("GUNICORN_BIND", "0.0.0.0:8000")
workers = int(os.environ.get("GUNICORN_WORKERS", multiprocessing.cpu_count() * 2 + 1))
threads = int(os.environ.get("GUNICORN_THREADS", "1"))
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "30"))
graceful_timeout = 30
keepalive = 5
max_requests = int(os.environ.get("GUNICORN_MAX_REQUESTS", "2000"))
max_requests_jitter = 200
accesslog = "-"
errorlog = "-"
# Query strings can carry search terms; log the path only.
access_log_format = '%(h)s "%(m)s %(U)s" %(s)s %(b)s %(M)sms'

# An emailed listing-verification link carries its token in the path (the page it lands on moves
# it into the session and redirects to a token-free address); this log never records it. The same
# pattern as cms/log_filters.py (not imported: the master process stays free of Django).
_TOKEN_PATHS = re.compile(r"(/listings/verify/)[^/\s]+/")


class TokenRedactingLogger(Logger):
    def atoms(self, resp, req, environ, request_time):  # type: ignore[no-untyped-def]
        atoms = super().atoms(resp, req, environ, request_time)
        for key in ("U", "r", "{raw_uri}e"):
            if isinstance(atoms.get(key), str):
                atoms[key] = _TOKEN_PATHS.sub(r"\1<token>/", atoms[key])
        return atoms


logger_class = TokenRedactingLogger
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1")
wsgi_app = "cms.wsgi:application"
