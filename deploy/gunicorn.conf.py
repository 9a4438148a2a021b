"""gunicorn settings for the web processes; every value can be overridden from the environment."""

import importlib.util
import math
import os
import re
from pathlib import Path

from gunicorn.glogging import Logger

bind = os.environ.get("GUNICORN_BIND", "0.0.0.0:8000")


def container_cpus(cpu_max: str = "/sys/fs/cgroup/cpu.max") -> int:
    """The CPUs this process may use: its CPU affinity, bounded by the cgroup v2 CPU quota.

    multiprocessing.cpu_count() counts the host's CPUs: a container limited to 2 CPUs on a
    64-CPU host would start 129 workers. cpu.max holds "<quota> <period>" (or "max <period>").
    """
    try:
        cpus = len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        cpus = os.cpu_count() or 1
    try:
        with open(cpu_max, encoding="ascii") as limits:
            quota, period = limits.read().split()[:2]
        if quota != "max" and int(period) > 0:
            cpus = min(cpus, math.ceil(int(quota) / int(period)))
    except (OSError, ValueError):
        pass  # no cgroup v2 limit readable: the affinity alone
    return max(cpus, 1)


workers = int(os.environ.get("GUNICORN_WORKERS") or container_cpus() * 2 + 1)
threads = int(os.environ.get("GUNICORN_THREADS", "1"))
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "30"))
graceful_timeout = 30
keepalive = 5
max_requests = int(os.environ.get("GUNICORN_MAX_REQUESTS", "2000"))
max_requests_jitter = 200
# The application is imported once, in the master, and every worker forked from it: a worker
# that replaces one past max_requests starts at once, instead of importing Django and the
# project again (a second or two of CPU taken from the workers serving, every few minutes per
# worker under load). GUNICORN_PRELOAD=false imports it in each worker instead (a reload on HUP
# then picks up new code; with preload, new code needs a restart, as a new image does anyway).
preload_app = os.environ.get("GUNICORN_PRELOAD", "true").strip().lower() not in {"0", "false", "no"}


def _warm() -> None:
    from cms.warm import warm  # Django's, once the application is loaded

    warm()


def when_ready(server):  # type: ignore[no-untyped-def]
    """In the master, after the preloaded application and before the first fork: what every
    worker would build on its first requests (cms/warm.py), built once for all of them."""
    if preload_app:
        _warm()


def post_worker_init(worker):  # type: ignore[no-untyped-def]
    """Without preload, each worker warms itself before it serves."""
    if not preload_app:
        _warm()


accesslog = "-"
errorlog = "-"
# Query strings can carry search terms; log the path only. The last field is the request id the
# application returned (cms/request_id.py), which its own log lines carry too.
access_log_format = '%(h)s "%(m)s %(U)s" %(s)s %(b)s %(M)sms %({x-request-id}o)s'

# An emailed listing-verification link carries its token in the path (the page it lands on moves
# it into the session and redirects to a token-free address); this log never records it. The same
# pattern as cms/log_filters.py (not imported: this file is read before Django is loaded).
_TOKEN_PATHS = re.compile(r"(/listings/verify/)[^/\s]+/")


class TokenRedactingLogger(Logger):
    def atoms(self, resp, req, environ, request_time):  # type: ignore[no-untyped-def]
        atoms = super().atoms(resp, req, environ, request_time)
        for key in ("U", "r", "{raw_uri}e"):
            if isinstance(atoms.get(key), str):
                atoms[key] = _TOKEN_PATHS.sub(r"\1<token>/", atoms[key])
        return atoms


logger_class = TokenRedactingLogger


def _json_formatter() -> type:
    """cms/logging_json.py's formatter, loaded from its file: importing the ``cms`` package
    would import Celery and set a default DJANGO_SETTINGS_MODULE in the master process."""
    path = Path(__file__).resolve().parent.parent / "cms" / "logging_json.py"
    spec = importlib.util.spec_from_file_location("handoff_logging_json", path)
    if spec is None or spec.loader is None:
        raise RuntimeError(f"cannot load {path}")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    formatter: type = module.JsonFormatter
    return formatter


# LOG_FORMAT=json (the production default, as in cms/settings/production.py): gunicorn's own
# lines are JSON too; the access line is the message, its request id a field of its own.
if os.environ.get("LOG_FORMAT", "json") == "json":
    logconfig_dict = {
        "version": 1,
        "disable_existing_loggers": False,
        "root": {"level": "INFO", "handlers": []},  # Django's LOGGING sets it in the workers
        "loggers": {
            "gunicorn.error": {"level": "INFO", "handlers": ["error_console"], "propagate": False},
            "gunicorn.access": {"level": "INFO", "handlers": ["console"], "propagate": False},
        },
        "handlers": {
            "console": {
                "class": "logging.StreamHandler",
                "formatter": "json",
                "stream": "ext://sys.stdout",
            },
            "error_console": {
                "class": "logging.StreamHandler",
                "formatter": "json",
                "stream": "ext://sys.stderr",
            },
        },
        "formatters": {"json": {"()": _json_formatter()}},
    }
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1")
wsgi_app = "cms.wsgi:application"
# gunicorn's control socket (a local admin interface) is off unless asked for: one fixed path per
# user would be shared by two instances on a host, and a read-only container home cannot hold it.
control_socket = os.environ.get("GUNICORN_CONTROL_SOCKET", "")
control_socket_disable = not control_socket
