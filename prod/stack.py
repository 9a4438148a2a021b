"""The production stack on this machine, as production runs it: the production settings, gunicorn,
Celery workers and beat, PostgreSQL, Redis, S3-compatible object storage and nginx terminating
TLS with a self-signed certificate.

    with Stack(StackOptions(workdir=Path("/tmp/smoke"), web_instances=2)) as stack:
        stack.manage("seed_demo", "--port", str(stack.https_port), settings="cms.settings.dev")
        stack.serve()                       # gunicorn x2, workers, beat, nginx; waits for /readyz
        requests.get(stack.base_url + "/healthz", verify=stack.ca_file)
        stack.services["worker-1"].kill()   # SIGKILL; the supervisor starts it again
        stack.postgres.stop(); ...; stack.postgres.start()

Interface:

* ``StackOptions``: what to start (see its fields). ``database_url=None`` starts a PostgreSQL
  cluster of the stack's own in ``workdir`` (initdb, its own port) so that faults can stop it
  without touching the machine's server, with production's roles (deploy/postgres/roles.sh:
  ``migrate`` as the owner ``handoff``, the app processes as ``handoff_app``, which owns
  nothing); a URL uses that database instead, for everything (the caller owns it).
  ``redis_url=None`` likewise starts a Redis of its own (append-only file on, as production
  keeps the broker's queue across restarts). ``object_storage`` starts moto's S3 server with a
  private bucket for media and one for private files.
* ``Stack.__enter__``: certificate, PostgreSQL, Redis, object storage, then ``migrate`` and
  ``collectstatic`` with the production settings (migrations before any process starts).
* ``Stack.manage(*args, settings=...)``: a management command against the stack's database, the
  production settings unless ``settings`` names others (the demo is seeded with the dev settings:
  production refuses demo data).
* ``Stack.serve()``: gunicorn instances, Celery workers, beat and nginx; returns when
  ``/readyz`` answers 200 through the proxy. Every one is supervised like ``restart:
  unless-stopped``: one that exits is started again (``Service.restarts`` counts it).
* ``Stack.env``: the environment of the app processes; ``owner_database_url`` (the tables'
  owner, for ``migrate`` and backups) and ``admin_database_url`` (a superuser's, to create a
  database); ``base_url`` (``https://127.0.0.1:<port>``),
  ``http_url``, ``ca_file`` (verify TLS against it), ``services`` (by name), ``postgres``,
  ``redis``, ``logs_dir``.
* ``Stack.__exit__``: stops everything with SIGTERM (then SIGKILL after a grace period) and
  records in ``stopped_cleanly`` which processes exited on the signal alone.
* ``StackOptions.image``: run gunicorn, the workers, beat and ``migrate`` from that container
  image (deploy/Containerfile) instead of this checkout, each process a container on the host's
  network (podman, or ``container_tool``), as its own unprivileged user, with the stack's data
  directory mounted; the static files are the image's own. A kill reaches every process of a
  container at once (its process group, from the host), and stopping one is ``podman stop``:
  SIGTERM, as an orchestrator sends.
"""

from __future__ import annotations

import os
import re
import secrets
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any

import requests

ROOT = Path(__file__).resolve().parent.parent
# deploy/Containerfile's user, who owns only the data directory.
IMAGE_UID = 10001
# What a container of the image is given of the stack's environment (StackOptions.image).
APP_VARIABLES = (
    "DJANGO_",
    "DATABASE_",
    "REDIS_",
    "CELERY_",
    "AWS_",
    "EMAIL_",
    "HANDOFF_",
    "GUNICORN_",
    "SENTRY_",
    "LOG_",
    "ELASTICSEARCH_",
    "SECRET_KEY",
    "ALLOWED_HOSTS",
    "CSRF_",
    "WAGTAILADMIN_",
    "FORWARDED_",
    "SECURE_",
    "MEDIA_ROOT",
    "PRIVATE_ROOT",
    "PYTHONUNBUFFERED",
    "BACKUP_DIR",
    "PG_RESTORE_OPTIONS",
)
NGINX_TEMPLATE = ROOT / "deploy" / "nginx" / "handoff.conf.template"
HOST = "127.0.0.1"
# wrk's script for both loads (the smoke's, bench/http_load.py's): each request the next path.
WRK_PATHS_SCRIPT = Path(__file__).with_name("wrk_paths.lua")


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


def port_open(port: int, host: str = HOST) -> bool:
    import socket

    try:
        with socket.create_connection((host, port), timeout=1):
            return True
    except OSError:
        return False


def wait_until(what: str, ready: Callable[[], bool], seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if ready():
            return
        time.sleep(0.2)
    raise StackError(f"{what} was not ready after {seconds:.0f} s")


class StackError(RuntimeError):
    """A part of the stack did not start or stop as it should."""


@dataclass
class StackOptions:
    workdir: Path
    web_instances: int = 1
    gunicorn_workers: int = 2
    celery_workers: int = 1
    celery_concurrency: int = 2
    beat: bool = True
    database_url: str | None = None
    redis_url: str | None = None
    object_storage: bool = True
    https_port: int = 8443
    http_port: int = 0  # 0: a free port
    smtp_port: int | None = None  # the SMTP server mail goes to (prod.sink); None: nowhere
    extra_env: dict[str, str] = field(default_factory=dict)
    quiet: bool = False
    image: str | None = None  # the app processes from this container image (see above)
    container_tool: str = "podman"


def run_as_postgres() -> list[str]:
    """PostgreSQL refuses to run as root: as root, its commands run as the postgres user."""
    if os.geteuid() == 0:
        return ["runuser", "-u", "postgres", "--"]
    return []


def pg_bin(name: str) -> str:
    found = shutil.which(name)
    if found:
        return found
    for version in sorted(Path("/usr/lib/postgresql").glob("*"), reverse=True):
        candidate = version / "bin" / name
        if candidate.exists():
            return str(candidate)
    raise StackError(f"{name} not found (PostgreSQL server binaries)")


class Postgres:
    """A PostgreSQL cluster of the stack's own, on its own port; stopped and started by faults."""

    def __init__(self, directory: Path, port: int) -> None:
        self.directory = directory
        self.port = port
        # The roles of deploy/postgres/roles.sh (the cluster trusts local connections).
        self.url = f"postgres://handoff_app@{HOST}:{port}/handoff"
        self.owner_url = f"postgres://handoff@{HOST}:{port}/handoff"
        self.admin_url = f"postgres://postgres@{HOST}:{port}/postgres"

    def _pg(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        return subprocess.run(  # noqa: S603 — fixed binaries, arguments of our own
            [*run_as_postgres(), *args], check=check, capture_output=True, text=True
        )

    def init(self) -> None:
        self.directory.mkdir(parents=True)
        if os.geteuid() == 0:
            shutil.chown(self.directory, "postgres", "postgres")
        self._pg(
            pg_bin("initdb"),
            "-D",
            str(self.directory / "data"),
            "-U",
            "postgres",
            "--auth=trust",
            "--encoding=UTF8",
            "--locale=C.UTF-8",
        )
        self.start()
        # The database and its two roles, as compose.yaml makes them on a new volume.
        roles = subprocess.run(  # noqa: S603 — our own script
            ["/bin/sh", str(ROOT / "deploy" / "postgres" / "roles.sh")],
            env={
                **os.environ,
                "PGHOST": HOST,
                "PGPORT": str(self.port),
                "POSTGRES_USER": "postgres",
                "HANDOFF_OWNER_PASSWORD": "unused-the-smoke-cluster-trusts-local-connections",
                "HANDOFF_APP_PASSWORD": "unused-the-smoke-cluster-trusts-local-connections",
            },
            check=False,
            capture_output=True,
            text=True,
        )
        if roles.returncode != 0:
            raise StackError(f"deploy/postgres/roles.sh failed:\n{roles.stderr[-2000:]}")

    def start(self) -> None:
        options = f"-p {self.port} -c listen_addresses={HOST} -k {self.directory} -c fsync=on"
        self._pg(
            pg_bin("pg_ctl"),
            "-D",
            str(self.directory / "data"),
            "-o",
            options,
            "-l",
            str(self.directory / "postgres.log"),
            "-w",
            "start",
        )

    def stop(self, mode: str = "fast") -> None:
        self._pg(pg_bin("pg_ctl"), "-D", str(self.directory / "data"), "-m", mode, "-w", "stop")

    @property
    def running(self) -> bool:
        data = str(self.directory / "data")
        return self._pg(pg_bin("pg_ctl"), "-D", data, "status", check=False).returncode == 0


class Service:
    """One process of the stack; ``wanted`` ones are started again when they exit."""

    def __init__(
        self, name: str, argv: Sequence[str], *, env: dict[str, str], log: Path, cwd: Path = ROOT
    ) -> None:
        self.name = name
        self.argv = list(argv)
        self.env = env
        self.log = log
        self.cwd = cwd
        self.process: subprocess.Popen[bytes] | None = None
        self.wanted = False
        self.restarts = 0
        self.started_at = 0.0
        self._lock = threading.Lock()

    def start(self) -> None:
        with self._lock:
            self.wanted = True
            self._spawn()

    def _spawn(self) -> None:
        log = self.log.open("ab")
        self.process = subprocess.Popen(  # noqa: S603 — our own commands
            self.argv,
            env=self.env,
            cwd=self.cwd,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # signals to the stack never reach it by accident
        )
        log.close()
        self.started_at = time.monotonic()

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process else None

    @property
    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def kill(self, sig: int = signal.SIGKILL) -> float | None:
        """Send ``sig`` to the whole process group (a Celery worker's pool children too); when
        (``time.monotonic()`` just before the signal), or None if nothing was running."""
        if self.process is None or self.process.poll() is not None:
            return None
        at = time.monotonic()
        os.killpg(self.process.pid, sig)
        return at

    def revive(self) -> bool:
        """Start it again if it is wanted and has exited; whether it did."""
        with self._lock:
            if not self.wanted or self.alive:
                return False
            self.restarts += 1
            self._spawn()
            return True

    def stop(self, grace: float = 20) -> bool:
        """SIGTERM, then SIGKILL after ``grace`` seconds; whether it exited on SIGTERM alone."""
        with self._lock:
            self.wanted = False
        if self.process is None or self.process.poll() is not None:
            return True
        os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(grace)
            return True
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(10)
            return False


def container_name(name: str) -> str:
    return f"handoff-stack-{os.getpid()}-{name}"


def container_run_argv(
    *, tool: str, name: str, image: str, volume: Path, keys: Sequence[str], argv: Sequence[str]
) -> list[str]:
    """``podman run`` of ``argv`` in ``image``: on the host's network (the stack's servers
    listen on 127.0.0.1), the data directory mounted at its own path, the variables ``keys``
    passed from the caller's environment, removed when it exits."""
    return [
        tool,
        "run",
        "--rm",
        "--name",
        name,
        "--network=host",
        # The orchestrator's health checks are not podman's to run here (that needs systemd):
        # the smoke probes /healthz and /readyz itself and runs the image's check by hand.
        "--no-healthcheck",
        "--volume",
        f"{volume}:{volume}",
        *(part for key in keys for part in ("--env", key)),
        image,
        *argv,
    ]


class ContainerService(Service):
    """A process of the stack run as a container of the application image, on the host's
    network, with the stack's data directory mounted at the same path. ``argv`` is the command
    inside the image; ``env`` passes only the application's variables (``keys``)."""

    def __init__(
        self,
        name: str,
        argv: Sequence[str],
        *,
        env: dict[str, str],
        log: Path,
        image: str,
        tool: str,
        keys: Sequence[str],
        volume: Path,
    ) -> None:
        self.container = container_name(name)
        self.tool = tool
        command = container_run_argv(
            tool=tool, name=self.container, image=image, volume=volume, keys=keys, argv=argv
        )
        super().__init__(name, command, env=env, log=log)

    def _spawn(self) -> None:
        # A container killed a moment ago may still be being removed: its name must be free.
        subprocess.run(  # noqa: S603
            [self.tool, "rm", "--force", "--ignore", self.container],
            capture_output=True,
            check=False,
        )
        super()._spawn()

    def kill(self, sig: int = signal.SIGKILL) -> float | None:
        """Send ``sig`` to every process of the container at once, as to a process group on the
        host (a Celery worker's pool children too): its first process leads the group its
        children are in. (``podman kill`` signals the first process alone; the client of
        ``podman run`` cannot pass SIGKILL on.) When, as ``Service.kill`` says."""
        if not self.alive:
            return None
        found = subprocess.run(  # noqa: S603
            [self.tool, "inspect", "--format", "{{.State.Pid}}", self.container],
            capture_output=True,
            text=True,
            check=False,
        )
        pid = int(found.stdout.strip() or 0)
        if pid <= 0:
            return None
        at = time.monotonic()
        os.killpg(pid, sig)
        return at

    def stop(self, grace: float = 20) -> bool:
        """``podman stop``: SIGTERM, then SIGKILL after ``grace`` seconds; whether the container
        exited on SIGTERM alone (a SIGKILL shows as the exit status 137)."""
        with self._lock:
            self.wanted = False
        if self.process is None or self.process.poll() is not None:
            return True
        subprocess.run(  # noqa: S603
            [self.tool, "stop", "--time", str(int(grace)), self.container],
            capture_output=True,
            check=False,
        )
        try:
            code = self.process.wait(30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(10)
            return False
        return code != 128 + signal.SIGKILL


class Supervisor(threading.Thread):
    """Starts again every wanted service that exited (a second after), like a restart policy."""

    def __init__(self, services: dict[str, Service], say: Callable[[str], None]) -> None:
        super().__init__(daemon=True, name="stack-supervisor")
        self.services = services
        self.say = say
        self.halt = threading.Event()

    def run(self) -> None:
        while not self.halt.wait(1.0):
            for service in list(self.services.values()):
                code = service.process.poll() if service.process else None
                if service.wanted and code is not None and service.revive():
                    self.say(f"{service.name} exited ({code}); started again")


def certificate_make(directory: Path) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 and localhost (valid two days)."""
    directory.mkdir(parents=True, exist_ok=True)
    cert, key = directory / "handoff.crt", directory / "handoff.key"
    subprocess.run(  # noqa: S603
        [  # noqa: S607 — Debian's openssl
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "2",
            "-subj",
            f"/CN={HOST}",
            "-addext",
            f"subjectAltName=IP:{HOST},DNS:localhost",
            "-keyout",
            str(key),
            "-out",
            str(cert),
        ],
        check=True,
        capture_output=True,
    )
    return cert, key


_PLACEHOLDER = re.compile(r"\$\{(HANDOFF_[A-Z_]+)\}")


def nginx_site_render(values: dict[str, str], template: Path = NGINX_TEMPLATE) -> str:
    """The site configuration from ``deploy/nginx/handoff.conf.template`` with its
    ``${HANDOFF_…}`` placeholders filled, as the nginx image's envsubst fills them (nginx's own
    ``$variables`` are left alone)."""
    text = template.read_text()

    def fill(match: re.Match[str]) -> str:
        if match.group(1) not in values:
            raise StackError(f"{template.name}: no value for {match.group(1)}")
        return values[match.group(1)]

    return _PLACEHOLDER.sub(fill, text)


def _nginx_main(*, workdir: Path, site: Path) -> str:
    """The main nginx.conf around the site: everything under ``workdir``, in the foreground."""
    user = "user root;\n" if os.geteuid() == 0 else ""
    temp = workdir / "nginx-temp"
    return (
        f"{user}worker_processes 1;\n"
        f"pid {workdir / 'nginx.pid'};\n"
        f"error_log {workdir / 'logs' / 'nginx-error.log'} warn;\n"
        "events { worker_connections 1024; }\n"
        "http {\n"
        "  default_type application/octet-stream;\n"
        f"  client_body_temp_path {temp / 'body'};\n"
        f"  proxy_temp_path {temp / 'proxy'};\n"
        f"  fastcgi_temp_path {temp / 'fastcgi'};\n"
        f"  uwsgi_temp_path {temp / 'uwsgi'};\n"
        f"  scgi_temp_path {temp / 'scgi'};\n"
        f"  include {site};\n"
        "}\n"
    )


class Stack:
    def __init__(self, options: StackOptions) -> None:
        self.options = options
        self.workdir = options.workdir.resolve()
        self.logs_dir = self.workdir / "logs"
        self.services: dict[str, Service] = {}
        self.postgres: Postgres | None = None
        self.redis: Service | None = None
        self.redis_port = 0
        self.s3_port = 0
        self._ports: set[int] = set()
        self.https_port = options.https_port or self.port_take()
        self.http_port = options.http_port or self.port_take()
        self.base_url = f"https://{HOST}:{self.https_port}"
        self.http_url = f"http://{HOST}:{self.http_port}"
        self.ca_file = self.workdir / "tls" / "handoff.crt"
        self.env: dict[str, str] = {}
        self.owner_database_url = ""
        self.admin_database_url = ""
        self.stopped_cleanly: dict[str, bool] = {}
        self._supervisor: Supervisor | None = None
        self._infrastructure: list[Service] = []
        self.ready_path = "/readyz"
        self.served_at = 0.0

    def port_take(self) -> int:
        """A free port no other part of the stack was given (nothing holds them until each
        server binds, so the same free port could otherwise be handed out twice)."""
        while True:
            port = free_port()
            if port not in self._ports:
                self._ports.add(port)
                return port

    # --- reporting ------------------------------------------------------------------------------
    def say(self, text: str) -> None:
        if not self.options.quiet:
            print(f"[stack] {text}", flush=True)  # noqa: T201 — a command-line tool's progress

    # --- start ----------------------------------------------------------------------------------
    def __enter__(self) -> Stack:
        try:
            self._start_infrastructure()
            self.say("migrate (production settings), before any process starts")
            if self.options.image:
                self.say(f"the app processes from the image {self.options.image}")
                self.image_run(
                    "migrate",
                    ["python", "manage.py", "migrate", "--noinput", "-v0"],
                    env={**self.env, "DATABASE_URL": self.owner_database_url},
                )
            else:
                self.manage("migrate", "--noinput", "-v0", database_url=self.owner_database_url)
                self.manage("collectstatic", "--noinput", "-v0")
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def _start_infrastructure(self) -> None:
        if self.workdir.exists():
            shutil.rmtree(self.workdir)
        self.workdir.mkdir(parents=True)
        self.workdir.chmod(0o755)  # the postgres user reaches its cluster inside
        self.logs_dir.mkdir()
        for temp in ("body", "proxy", "fastcgi", "uwsgi", "scgi"):
            (self.workdir / "nginx-temp" / temp).mkdir(parents=True)
        cert, key = certificate_make(self.workdir / "tls")
        self._cert_key = (cert, key)

        database_url = self.options.database_url
        self.owner_database_url = self.admin_database_url = database_url or ""
        if database_url is None:
            self.postgres = Postgres(self.workdir / "postgres", self.port_take())
            self.say(
                f"PostgreSQL: a cluster of its own on port {self.postgres.port}; the app as "
                "handoff_app, which owns nothing, migrate as the owner handoff"
            )
            self.postgres.init()
            database_url = self.postgres.url
            self.owner_database_url = self.postgres.owner_url
            self.admin_database_url = self.postgres.admin_url

        redis_url = self.options.redis_url
        if redis_url is None:
            self.redis_port = self.port_take()
            redis_dir = self.workdir / "redis"
            redis_dir.mkdir()
            self.redis = Service(
                "redis",
                [
                    shutil.which("redis-server") or "redis-server",
                    "--port",
                    str(self.redis_port),
                    "--bind",
                    HOST,
                    "--dir",
                    str(redis_dir),
                    "--appendonly",
                    "yes",
                    "--appendfsync",
                    "always",
                    "--save",
                    "",
                ],
                env=dict(os.environ),
                log=self.logs_dir / "redis.log",
            )
            self.redis.start()
            self._infrastructure.append(self.redis)
            wait_until("Redis", lambda: port_open(self.redis_port), 15)
            redis_url = f"redis://{HOST}:{self.redis_port}"
            self.say(f"Redis: its own on port {self.redis_port} (append-only file)")

        self.env = self._app_env(database_url=database_url, redis_url=redis_url)
        if self.options.object_storage:
            self._object_storage_start()

    def _app_env(self, *, database_url: str, redis_url: str) -> dict[str, str]:
        var = self.workdir / "var"
        var.mkdir(exist_ok=True)
        env = {
            key: value
            for key, value in os.environ.items()
            if not key.startswith(("DJANGO_", "DATABASE_", "REDIS_", "CELERY_", "AWS_", "EMAIL_"))
        }
        # redis://host:port[/db]: the cache and the broker get databases of their own.
        redis_base = redis_url.rstrip("/")
        if redis_base.count("/") > 2:
            redis_base = redis_base.rsplit("/", 1)[0]
        env.update(
            {
                "DJANGO_SETTINGS_MODULE": "cms.settings.production",
                "SECRET_KEY": secrets.token_urlsafe(64),
                "ALLOWED_HOSTS": f"{HOST},localhost",
                "CSRF_TRUSTED_ORIGINS": self.base_url,
                "WAGTAILADMIN_BASE_URL": self.base_url,
                "DATABASE_URL": database_url,
                "DATABASE_CONN_MAX_AGE": "60",
                "REDIS_URL": f"{redis_base}/0",
                "CELERY_BROKER_URL": f"{redis_base}/1",
                "HANDOFF_VAR_DIR": str(var),
                "MEDIA_ROOT": str(var / "media"),
                "PRIVATE_ROOT": str(var / "private"),
                "HANDOFF_TRUSTED_PROXIES": HOST,
                "FORWARDED_ALLOW_IPS": HOST,
                "LOG_FORMAT": "json",
                "GUNICORN_WORKERS": str(self.options.gunicorn_workers),
                "PYTHONUNBUFFERED": "1",
            }
        )
        if self.options.smtp_port:
            env.update(
                {
                    "EMAIL_BACKEND": "django.core.mail.backends.smtp.EmailBackend",
                    "EMAIL_HOST": HOST,
                    "EMAIL_PORT": str(self.options.smtp_port),
                }
            )
        if not self.options.image:
            # An image has its own static files, collected into it.
            env["STATIC_ROOT"] = str(self.workdir / "static")
        env.update(self.options.extra_env)
        return env

    @staticmethod
    def _image_volume_own(var: Path) -> None:
        """Give the data directory to the image's user (uid 10001, who may write nothing
        else), before containers start: what the host wrote there since is theirs too."""
        for path in [var, *var.rglob("*")]:
            os.chown(path, IMAGE_UID, IMAGE_UID)

    def app_keys(self, env: dict[str, str] | None = None) -> list[str]:
        """The variables a container of the image is given (of ``env``, the stack's by
        default): the application's settings, not this machine's environment (PATH, HOME...)."""
        return sorted(
            key for key in (self.env if env is None else env) if key.startswith(APP_VARIABLES)
        )

    def image_command(
        self,
        name: str,
        argv: Sequence[str],
        *,
        image: str | None = None,
        env: dict[str, str] | None = None,
    ) -> subprocess.CompletedProcess[str]:
        """Run a one-off command in a container of ``image`` (the stack's by default), with
        the stack's environment or ``env``, the data directory mounted; its output."""
        image = image or self.options.image
        if image is None:
            raise StackError("no image to run in (StackOptions.image)")
        env = env if env is not None else self.env
        volume = Path(self.env["HANDOFF_VAR_DIR"])
        self._image_volume_own(volume)
        return subprocess.run(  # noqa: S603
            container_run_argv(
                tool=self.options.container_tool,
                name=container_name(name),
                image=image,
                volume=volume,
                keys=self.app_keys(env),
                argv=argv,
            ),
            env=env,
            capture_output=True,
            text=True,
        )

    def image_run(
        self, name: str, argv: Sequence[str], *, env: dict[str, str] | None = None
    ) -> None:
        """Run a one-off command in a container of the image (``migrate``, as the release
        job does), with the stack's environment or ``env``; StackError unless it exits 0."""
        result = self.image_command(name, argv, env=env)
        if result.returncode != 0:
            raise StackError(
                f"{name} in the image failed ({result.returncode}):\n{result.stderr[-3000:]}"
            )

    def _object_storage_start(self) -> None:
        self.s3_port = self.port_take()
        server = Service(
            "s3",
            [sys.executable, "-m", "moto.server", "-H", HOST, "-p", str(self.s3_port)],
            env=dict(os.environ),
            log=self.logs_dir / "s3.log",
        )
        server.start()
        self._infrastructure.append(server)
        wait_until("S3 (moto)", lambda: port_open(self.s3_port), 30)
        endpoint = f"http://{HOST}:{self.s3_port}"
        credentials = {
            "AWS_ACCESS_KEY_ID": "smoke",
            "AWS_SECRET_ACCESS_KEY": secrets.token_hex(16),
            "AWS_S3_REGION_NAME": "us-east-1",
        }
        self.env.update({**credentials, "AWS_S3_ENDPOINT_URL": endpoint})
        buckets = {
            "AWS_STORAGE_BUCKET_NAME": "handoff-media",
            "AWS_PRIVATE_BUCKET_NAME": "handoff-private",
        }
        self.private_buckets_make(*buckets.values())
        self.env.update(buckets)
        self.say(f"object storage: moto's S3 server on port {self.s3_port}, two private buckets")

    def private_buckets_make(self, *names: str) -> None:
        """Buckets in the stack's object storage, public access blocked, as production's are."""
        client = self.s3_client()
        for bucket in names:
            client.create_bucket(Bucket=bucket)
            client.put_public_access_block(
                Bucket=bucket,
                PublicAccessBlockConfiguration={
                    "BlockPublicAcls": True,
                    "IgnorePublicAcls": True,
                    "BlockPublicPolicy": True,
                    "RestrictPublicBuckets": True,
                },
            )

    def s3_client(self) -> Any:
        """A boto3 client of the stack's object storage, with the application's credentials."""
        import boto3

        return boto3.client(
            "s3",
            endpoint_url=self.env["AWS_S3_ENDPOINT_URL"],
            region_name=self.env["AWS_S3_REGION_NAME"],
            aws_access_key_id=self.env["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=self.env["AWS_SECRET_ACCESS_KEY"],
        )

    def manage(
        self,
        *args: str,
        settings: str = "cms.settings.production",
        check: bool = True,
        database_url: str | None = None,
    ) -> subprocess.CompletedProcess[str]:
        """``manage.py *args`` with the app's environment (its database role, unless
        ``database_url`` names another: the owner's for ``migrate``)."""
        env = {**self.env, "DJANGO_SETTINGS_MODULE": settings}
        if database_url is not None:
            env["DATABASE_URL"] = database_url
        result = subprocess.run(  # noqa: S603
            [sys.executable, "manage.py", *args],
            env=env,
            cwd=ROOT,
            capture_output=True,
            text=True,
        )
        if check and result.returncode != 0:
            raise StackError(
                f"manage.py {' '.join(args)} failed ({result.returncode}):\n{result.stderr[-3000:]}"
            )
        return result

    # --- serve ----------------------------------------------------------------------------------
    def serve(self) -> None:
        """Start the app processes and the proxy; return when /readyz answers through it."""
        if self.options.image:
            self._image_volume_own(Path(self.env["HANDOFF_VAR_DIR"]))
        web_ports = [self.port_take() for _ in range(self.options.web_instances)]
        for number, port in enumerate(web_ports, start=1):
            self._add(
                f"web-{number}",
                [
                    *self._program("gunicorn"),
                    "-c",
                    "deploy/gunicorn.conf.py",
                    "--bind",
                    f"{HOST}:{port}",
                ],
            )
        for number in range(1, self.options.celery_workers + 1):
            self._add(
                f"worker-{number}",
                [
                    *self._program("celery"),
                    "-A",
                    "cms",
                    "worker",
                    "-n",
                    f"worker{number}@%h",
                    "--concurrency",
                    str(self.options.celery_concurrency),
                    "--loglevel",
                    "INFO",
                    "--without-mingle",
                    "--without-gossip",
                ],
            )
        if self.options.beat:
            self._add(
                "beat",
                [
                    *self._program("celery"),
                    "-A",
                    "cms",
                    "beat",
                    "--loglevel",
                    "INFO",
                    "--scheduler",
                    "django_celery_beat.schedulers:DatabaseScheduler",
                    "--pidfile",
                    # In the data directory: the image's user may write nowhere else.
                    str(Path(self.env["HANDOFF_VAR_DIR"]) / "beat.pid"),
                ],
            )
        site = self.workdir / "nginx-site.conf"
        cert, key = self._cert_key
        site.write_text(
            nginx_site_render(
                {
                    "HANDOFF_SERVER_NAME": f"{HOST} localhost",
                    "HANDOFF_HTTPS_PORT": str(self.https_port),
                    "HANDOFF_HTTP_PORT": str(self.http_port),
                    "HANDOFF_UPSTREAM_SERVERS": " ".join(
                        f"server {HOST}:{port} max_fails=0;" for port in web_ports
                    ),
                    "HANDOFF_TLS_CERTIFICATE": str(cert),
                    "HANDOFF_TLS_CERTIFICATE_KEY": str(key),
                    "HANDOFF_ACCESS_LOG": str(self.logs_dir / "nginx-access.log"),
                }
            )
        )
        main = self.workdir / "nginx.conf"
        main.write_text(_nginx_main(workdir=self.workdir, site=site))
        nginx = shutil.which("nginx") or "/usr/sbin/nginx"
        test = subprocess.run(  # noqa: S603
            [nginx, "-t", "-c", str(main), "-p", str(self.workdir)], capture_output=True, text=True
        )
        if test.returncode != 0:
            raise StackError(f"nginx configuration refused:\n{test.stderr}")
        self._add("nginx", [nginx, "-c", str(main), "-p", str(self.workdir), "-g", "daemon off;"])

        for service in self.services.values():
            service.start()
        self.served_at = time.monotonic()
        self._supervisor = Supervisor(self.services, self.say)
        self._supervisor.start()
        for port in web_ports:
            wait_until(f"gunicorn on {port}", lambda port=port: port_open(port), 60)  # type: ignore[misc]
        wait_until("/readyz through the proxy", self.ready, 60)
        self.say(
            f"serving {self.base_url}: {len(web_ports)} gunicorn x {self.options.gunicorn_workers}"
            f" workers, {self.options.celery_workers} Celery worker(s),"
            f" {'one beat' if self.options.beat else 'no beat'}, nginx (TLS)"
        )

    def container_exec(
        self, service: Service, argv: Sequence[str], env: dict[str, str] | None = None
    ) -> subprocess.CompletedProcess[str]:
        """Run ``argv`` inside a running container of the image (``podman exec``), with the
        variables ``env`` added."""
        if not isinstance(service, ContainerService):
            raise StackError(f"{service.name} is not a container")
        variables = [f"--env={key}={value}" for key, value in (env or {}).items()]
        return subprocess.run(  # noqa: S603
            [service.tool, "exec", *variables, service.container, *argv],
            capture_output=True,
            text=True,
            check=False,
        )

    def _program(self, name: str) -> list[str]:
        """How to start gunicorn or celery: this checkout's Python, or the image's command."""
        return [name] if self.options.image else [sys.executable, "-m", name]

    def _add(self, name: str, argv: Sequence[str]) -> Service:
        log = self.logs_dir / f"{name}.log"
        service: Service
        if self.options.image and name != "nginx":
            service = ContainerService(
                name,
                argv,
                env=self.env,
                log=log,
                image=self.options.image,
                tool=self.options.container_tool,
                keys=self.app_keys(),
                volume=Path(self.env["HANDOFF_VAR_DIR"]),
            )
        else:
            service = Service(name, argv, env=self.env, log=log)
        self.services[name] = service
        return service

    def ready(self) -> bool:
        try:
            response = requests.get(
                self.base_url + self.ready_path, verify=str(self.ca_file), timeout=5
            )
        except requests.RequestException:
            return False
        return response.status_code == 200

    def session(self) -> requests.Session:
        session = requests.Session()
        session.verify = str(self.ca_file)
        # Neither a proxy nor a CA bundle from the environment: this talks to 127.0.0.1 and
        # trusts exactly the stack's certificate (REQUESTS_CA_BUNDLE would override it).
        session.trust_env = False
        return session

    def redis_restart(self) -> None:
        """Stop Redis (SIGTERM: it writes its append-only file) and start it again."""
        if self.redis is None:
            raise StackError("Redis is not the stack's own")
        self.redis.stop()
        self.redis.start()
        wait_until("Redis", lambda: port_open(self.redis_port), 15)

    # --- stop -----------------------------------------------------------------------------------
    def close(self) -> None:
        if self._supervisor is not None:
            self._supervisor.halt.set()
        # The proxy first (no new requests), then web, workers and beat, then what they use.
        order = sorted(self.services.values(), key=lambda s: (s.name != "nginx", s.name))
        for service in order:
            self.stopped_cleanly[service.name] = service.stop()
        for service in reversed(self._infrastructure):
            self.stopped_cleanly[service.name] = service.stop()
        if self.postgres is not None and self.postgres.running:
            try:
                self.postgres.stop()
                self.stopped_cleanly["postgres"] = True
            except subprocess.CalledProcessError:
                self.postgres.stop(mode="immediate")
                self.stopped_cleanly["postgres"] = False


def log_lines(stack: Stack) -> dict[str, list[str]]:
    """Every log line the stack's processes wrote, by file name."""
    return {
        path.name: path.read_text(errors="replace").splitlines()
        for path in sorted(stack.logs_dir.glob("*.log"))
    }


def json_lines(lines: Sequence[str]) -> list[dict[str, Any]]:
    import json

    records = []
    for line in lines:
        if line.startswith("{"):
            try:
                records.append(json.loads(line))
            except ValueError:
                continue
    return records
