"""deploy/compose.yaml: the single-host stack starts in order, heals itself and shares its files.

No container engine runs here: the file is read as YAML and its properties asserted.
"""

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
APP_SERVICES = ("web", "worker", "beat")
ONE_SHOT = {"migrate", "buckets", "backup"}
OBJECT_STORAGE = (
    "AWS_STORAGE_BUCKET_NAME",
    "AWS_PRIVATE_BUCKET_NAME",
    "AWS_S3_ENDPOINT_URL",
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
)


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return yaml.safe_load((DEPLOY / "compose.yaml").read_text())


@pytest.fixture(scope="module")
def services(compose: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return compose["services"]


def _long_running(services: dict[str, dict[str, Any]]) -> list[str]:
    return [name for name in services if name not in ONE_SHOT]


def _healthcheck_command(service: dict[str, Any]) -> str:
    test = service["healthcheck"]["test"]
    return test if isinstance(test, str) else " ".join(test)


def test_the_stack_has_every_part(services: dict[str, dict[str, Any]]) -> None:
    assert {"proxy", "web", "worker", "beat", "migrate", "db", "redis"} <= set(services)
    assert {"objects", "buckets"} <= set(services), "an S3-compatible store for one host"


@pytest.mark.parametrize("name", APP_SERVICES)
def test_web_worker_and_beat_start_after_migrate(
    services: dict[str, dict[str, Any]], name: str
) -> None:
    depends_on = services[name]["depends_on"]
    assert isinstance(depends_on, dict), "conditions, not a bare list"
    assert depends_on["migrate"] == {"condition": "service_completed_successfully"}
    assert depends_on["db"] == {"condition": "service_healthy"}
    assert depends_on["redis"] == {"condition": "service_healthy"}
    assert depends_on["buckets"] == {"condition": "service_completed_successfully"}


def test_migrate_runs_once_against_a_healthy_database(services: dict[str, dict[str, Any]]) -> None:
    migrate = services["migrate"]
    assert "migrate --noinput" in " ".join(migrate["command"])
    assert migrate["restart"] == "no"
    assert migrate["depends_on"]["db"] == {"condition": "service_healthy"}


def test_every_long_running_service_has_a_healthcheck(
    services: dict[str, dict[str, Any]],
) -> None:
    for name in _long_running(services):
        healthcheck = services[name].get("healthcheck")
        assert healthcheck, f"{name} has no healthcheck"
        assert not healthcheck.get("disable"), f"{name}'s healthcheck is disabled"
        assert healthcheck["test"], name


@pytest.mark.parametrize(
    ("name", "probe"),
    [
        ("db", "pg_isready"),
        ("redis", "redis-cli ping"),
        ("web", "http://127.0.0.1:8000/readyz"),
        ("worker", "celery -A cms inspect ping"),
    ],
)
def test_the_healthchecks_probe_the_service(
    services: dict[str, dict[str, Any]], name: str, probe: str
) -> None:
    assert probe in _healthcheck_command(services[name])


def test_restart_policies(services: dict[str, dict[str, Any]]) -> None:
    for name in _long_running(services):
        assert services[name]["restart"] == "unless-stopped", name
    for name in ONE_SHOT:
        assert services[name]["restart"] == "no", name


def test_only_the_proxy_publishes_ports(services: dict[str, dict[str, Any]]) -> None:
    published = {name for name, service in services.items() if service.get("ports")}
    assert published == {"proxy"}
    ports = [str(port) for port in services["proxy"]["ports"]]
    assert any(port.endswith(":443") for port in ports)
    assert any(port.endswith(":80") for port in ports)
    assert "8000" in [str(port) for port in services["web"].get("expose", [])]


def test_the_proxy_serves_tls_from_the_template(services: dict[str, dict[str, Any]]) -> None:
    proxy = services["proxy"]
    mounts = {volume.split(":")[0]: volume.split(":")[1] for volume in proxy["volumes"]}
    assert mounts["./nginx/handoff.conf.template"].startswith("/etc/nginx/templates/")
    assert (DEPLOY / "nginx" / "handoff.conf.template").exists()
    tls_dir = mounts["./tls"]
    environment = proxy["environment"]
    assert environment["HANDOFF_TLS_CERTIFICATE"].startswith(tls_dir + "/")
    assert environment["HANDOFF_TLS_CERTIFICATE_KEY"].startswith(tls_dir + "/")
    assert environment["HANDOFF_HTTPS_PORT"] == "443"
    assert "web:8000" in environment["HANDOFF_UPSTREAM_SERVERS"]
    assert proxy["depends_on"]["web"] == {"condition": "service_healthy"}


def test_https_redirect_is_on_because_the_proxy_serves_https(
    services: dict[str, dict[str, Any]],
) -> None:
    environment = services["web"]["environment"]
    assert environment["SECURE_SSL_REDIRECT"] == "true"
    assert environment["DJANGO_SETTINGS_MODULE"] == "cms.settings.production"
    proxy_address = services["proxy"]["networks"]["handoff"]["ipv4_address"]
    assert environment["HANDOFF_TRUSTED_PROXIES"] == proxy_address


@pytest.mark.parametrize("name", [*APP_SERVICES, "migrate", "backup"])
def test_web_and_worker_share_the_object_storage(
    services: dict[str, dict[str, Any]], name: str
) -> None:
    web = services["web"]["environment"]
    environment = services[name]["environment"]
    for variable in OBJECT_STORAGE:
        assert environment.get(variable), f"{name} has no {variable}"
        assert environment[variable] == web[variable], (name, variable)
    # Uploads are not on a container's own disk (lost when it is recreated, unseen by the worker).
    for volume in services[name].get("volumes", []):
        assert "media" not in volume, (name, volume)
        assert "private" not in volume, (name, volume)


def test_the_buckets_are_created_private_and_encrypted(
    services: dict[str, dict[str, Any]],
) -> None:
    script = "\n".join(services["buckets"]["command"])
    assert "mc mb --ignore-existing" in script
    assert "mc anonymous set none" in script
    assert "mc encrypt set sse-s3" in script
    assert services["buckets"]["depends_on"]["objects"] == {"condition": "service_healthy"}


def test_workers_and_concurrency_come_from_the_environment(
    services: dict[str, dict[str, Any]],
) -> None:
    assert re.fullmatch(
        r"\$\{GUNICORN_WORKERS:-\d*\}", services["web"]["environment"]["GUNICORN_WORKERS"]
    )
    worker = services["worker"]
    assert re.fullmatch(
        r"\$\{CELERY_CONCURRENCY:-\d+\}", worker["environment"]["CELERY_CONCURRENCY"]
    )
    assert "--concurrency=$${CELERY_CONCURRENCY" in " ".join(worker["command"])


def test_exactly_one_beat(services: dict[str, dict[str, Any]]) -> None:
    assert services["beat"]["deploy"]["replicas"] == 1
    assert "--scheduler django_celery_beat.schedulers:DatabaseScheduler" in " ".join(
        services["beat"]["command"]
    )


def test_redis_keeps_an_append_only_file(services: dict[str, dict[str, Any]]) -> None:
    command = services["redis"]["command"]
    assert command[command.index("--appendonly") + 1] == "yes"
    assert any(volume.endswith(":/data") for volume in services["redis"]["volumes"])


def test_elasticsearch_is_optional(services: dict[str, dict[str, Any]]) -> None:
    assert services["search"]["profiles"] == ["search"]
    for name in (*APP_SERVICES, "migrate", "proxy"):
        assert "search" not in services[name].get("depends_on", {}), name


def test_every_app_service_runs_one_image_from_the_containerfile(
    services: dict[str, dict[str, Any]],
) -> None:
    containerfile = (DEPLOY / "Containerfile").read_text()
    images = {services[name]["image"] for name in (*APP_SERVICES, "migrate")}
    assert len(images) == 1
    for name in (*APP_SERVICES, "migrate", "backup"):
        build = services[name]["build"]
        assert build["dockerfile"] == "deploy/Containerfile"
        assert (DEPLOY / build["context"] / build["dockerfile"]).exists()
        assert re.search(rf"^FROM \S+ AS {build['target']}$", containerfile, re.MULTILINE), name


def test_data_lives_on_named_volumes(compose: dict[str, Any]) -> None:
    services = compose["services"]
    assert "pgdata:/var/lib/postgresql/data" in services["db"]["volumes"]
    assert "objectdata:/data" in services["objects"]["volumes"]
    assert {"pgdata", "redisdata", "objectdata"} <= set(compose["volumes"])


def _database_user(service: dict[str, Any]) -> str:
    match = re.match(r"postgres://([^:@]+)[:@]", service["environment"]["DATABASE_URL"])
    assert match, service["environment"]["DATABASE_URL"]
    return match.group(1)


def test_the_app_uses_a_role_that_owns_nothing_and_migrate_the_owner(
    services: dict[str, dict[str, Any]],
) -> None:
    """The audit trail's triggers hold only for a role that does not own the tables (it could
    drop them): web, worker and beat connect as handoff_app; migrate (which creates the tables)
    and the backups as the owner, handoff; the image's superuser is used by nothing."""
    for name in APP_SERVICES:
        assert _database_user(services[name]) == "handoff_app", name
    assert _database_user(services["migrate"]) == "handoff"
    assert _database_user(services["backup"]) == "handoff"
    db = services["db"]
    assert "POSTGRES_USER" not in db["environment"], "the image's superuser stays postgres"
    assert "./postgres/roles.sh:/docker-entrypoint-initdb.d/10-handoff-roles.sh:ro" in db["volumes"]
    roles = (DEPLOY / "postgres" / "roles.sh").read_text()
    assert "CREATE ROLE handoff_app LOGIN" in roles
    assert "CREATE DATABASE handoff OWNER handoff" in roles
    assert "SUPERUSER" not in roles
    assert "CREATEROLE" not in roles
