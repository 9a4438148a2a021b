"""deploy/Containerfile and the lock files: the image holds the whole application (every package,
the Spanish catalogue) and exactly the locked, hashed dependencies.

The files are read and their properties asserted here; the image itself is built and run by
`make prod-smoke-image` (podman: the whole production smoke with the app processes as its
containers). The lock check (`make lock-check`, requirements/check_lock.py) is tested on small
made-up projects.
"""

import fnmatch
import re
import runpy
import tomllib
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
CONTAINERFILE = ROOT / "deploy" / "Containerfile"


def _instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) of the Containerfile, continuation lines joined."""
    text = re.sub(r"\\\n", " ", CONTAINERFILE.read_text())
    result = []
    for line in text.splitlines():
        stripped = line.strip()
        if stripped and not stripped.startswith("#"):
            instruction, _, arguments = stripped.partition(" ")
            result.append((instruction.upper(), arguments.strip()))
    return result


def _app_stage() -> list[tuple[str, str]]:
    """The instructions of the `app` stage (the image web, worker, beat and migrate run)."""
    stage: list[tuple[str, str]] = []
    inside = False
    for instruction, arguments in _instructions():
        if instruction == "FROM":
            inside = arguments.endswith(" AS app")
            continue
        if inside:
            stage.append((instruction, arguments))
    assert stage, "no `FROM ... AS app` stage"
    return stage


def _copied() -> set[str]:
    copied = set()
    for instruction, arguments in _app_stage():
        if instruction == "COPY":
            sources = [part for part in arguments.split() if not part.startswith("--")][:-1]
            copied.update(source.rstrip("/") for source in sources)
    return copied


def _packages() -> list[str]:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    include = config["tool"]["setuptools"]["packages"]["find"]["include"]
    return sorted({re.split(r"[.*]", pattern)[0] for pattern in include})


def test_every_package_of_pyproject_is_copied() -> None:
    packages = _packages()
    assert "referrals" in packages
    missing = [package for package in packages if package not in _copied()]
    assert not missing, f"the Containerfile does not COPY {missing}"


def test_the_spanish_catalogue_and_the_rest_are_copied() -> None:
    copied = _copied()
    assert {"locale", "deploy", "manage.py", "pyproject.toml"} <= copied
    # The catalogue is compiled in the repository: the image compiles nothing.
    assert (ROOT / "locale" / "es" / "LC_MESSAGES" / "django.mo").exists()


def test_dependencies_come_from_the_lock_with_hashes() -> None:
    runs = [arguments for instruction, arguments in _app_stage() if instruction == "RUN"]
    installs = [run for run in runs if "pip install" in run]
    assert installs
    from_lock = [run for run in installs if "-r requirements/production.lock" in run]
    assert len(from_lock) == 1
    assert "--require-hashes" in from_lock[0]
    assert "--only-binary=:all:" in from_lock[0], "wheels only: nothing compiled in the image"
    assert "COPY requirements/production.lock requirements/production.lock" in [
        f"{instruction} {arguments}" for instruction, arguments in _app_stage()
    ]
    for run in installs:
        if run is not from_lock[0]:
            assert "--no-deps" in run, f"resolves dependencies outside the lock: {run}"


def test_the_image_runs_as_a_user_with_a_healthcheck_and_static_files() -> None:
    stage = _app_stage()
    users = [arguments for instruction, arguments in stage if instruction == "USER"]
    assert users
    assert users[-1].split(":")[0] not in {"root", "0"}
    healthcheck = " ".join(
        arguments for instruction, arguments in stage if instruction == "HEALTHCHECK"
    )
    assert "HANDOFF_HEALTHCHECK_URL" in healthcheck
    environment = " ".join(arguments for instruction, arguments in stage if instruction == "ENV")
    assert "HANDOFF_HEALTHCHECK_URL=http://127.0.0.1:8000/healthz" in environment
    assert any(
        "collectstatic --noinput" in arguments
        for instruction, arguments in stage
        if instruction == "RUN"
    )
    assert any(
        "compileall" in arguments for instruction, arguments in stage if instruction == "RUN"
    )
    # The last stage (the default target) is the application image.
    assert _instructions()[-1] == ("FROM", "app")


def _ignored(path: str, patterns: list[str]) -> bool:
    """Whether .dockerignore keeps `path` out of the build context (the last match decides)."""
    ignored = False
    for pattern in patterns:
        negated = pattern.startswith("!")
        pattern = pattern.removeprefix("!")
        if fnmatch.fnmatch(path, pattern) or any(
            fnmatch.fnmatch("/".join(path.split("/")[:depth]), pattern)
            for depth in range(1, path.count("/") + 1)
        ):
            ignored = not negated
    return ignored


def test_the_build_context_holds_what_is_copied_and_nothing_private() -> None:
    patterns = [
        line.strip()
        for line in (ROOT / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    for path in [*_copied(), "requirements/production.lock", "cms/settings/production.py"]:
        assert not _ignored(path, patterns), f"{path} is copied but ignored"
    assert not _ignored("locale/es/LC_MESSAGES/django.mo", patterns)
    for path in [
        "var/handoff.sqlite3",
        "var/private/consent.pdf",
        ".venv/bin/python",
        "tests/conftest.py",
        "test-artifacts/a.png",
        ".git/config",
        "deploy/.env",
        "deploy/app.env",
        "deploy/tls/privkey.pem",
        "deploy/backups/x/database.dump",
        "cms/__pycache__/urls.cpython-311.pyc",
    ]:
        assert _ignored(path, patterns), f"{path} would reach the build"


# --- the lock files ------------------------------------------------------------------------------

check_lock: dict[str, Any] = runpy.run_path(str(ROOT / "requirements" / "check_lock.py"))
HASH = "--hash=sha256:" + "a" * 64


def _project(
    tmp_path: Path, runtime: list[str], dev: list[str], production: str, dev_lock: str
) -> list[str]:
    (tmp_path / "requirements").mkdir(exist_ok=True)
    dependencies = ", ".join(f'"{r}"' for r in runtime)
    extras = ", ".join(f'"{r}"' for r in dev)
    (tmp_path / "pyproject.toml").write_text(
        f'[project]\nname = "x"\ndependencies = [{dependencies}]\n'
        f"[project.optional-dependencies]\ndev = [{extras}]\n"
    )
    (tmp_path / "requirements" / "production.lock").write_text(production)
    (tmp_path / "requirements" / "dev.lock").write_text(dev_lock)
    return check_lock["check"](
        tmp_path / "pyproject.toml",
        tmp_path / "requirements" / "production.lock",
        tmp_path / "requirements" / "dev.lock",
    )


def _pin(requirement: str, via: str = "x (pyproject.toml)") -> str:
    return f"{requirement} \\\n    {HASH}\n    # via {via}\n"


def test_in_step_lock_files_pass(tmp_path: Path) -> None:
    production = _pin("celery[redis]==5.5.0") + _pin("redis==5.0.0", via="celery")
    dev = production + _pin("pytest==8.3.0")
    assert _project(tmp_path, ["celery[redis]>=5.5,<6"], ["pytest>=8"], production, dev) == []


def test_a_dependency_added_without_relocking_fails(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    production = _pin("django==5.2.1")
    problems = _project(tmp_path, ["django>=5.2,<5.3", "boto3>=1.35"], [], production, production)
    assert problems == [
        "boto3>=1.35 is in pyproject.toml but not in requirements/production.lock",
        "boto3>=1.35 is in pyproject.toml but not in requirements/dev.lock",
    ]
    assert check_lock["main"]([str(tmp_path)]) == 1
    assert "make lock" in capsys.readouterr().err


def test_a_dev_dependency_added_without_relocking_fails(tmp_path: Path) -> None:
    production = _pin("django==5.2.1")
    problems = _project(tmp_path, ["django>=5.2"], ["moto[server]>=5"], production, production)
    assert problems == ["moto[server]>=5 is in pyproject.toml but not in requirements/dev.lock"]


def test_a_pin_outside_the_specifier_fails(tmp_path: Path) -> None:
    production = _pin("django==5.1.4")
    problems = _project(tmp_path, ["django>=5.2,<5.3"], [], production, production)
    assert len(problems) == 2
    assert "pins django==5.1.4" in problems[0]


def test_an_extra_added_without_relocking_fails(tmp_path: Path) -> None:
    production = _pin("django-storages==1.14.6")
    problems = _project(tmp_path, ["django-storages[s3]>=1.14"], [], production, production)
    assert any("without the extra(s) s3" in problem for problem in problems)


def test_a_pin_without_a_hash_fails(tmp_path: Path) -> None:
    production = "django==5.2.1\n    # via x (pyproject.toml)\n"
    problems = _project(tmp_path, ["django>=5.2"], [], production, production)
    assert any("django has no --hash" in problem for problem in problems)


def test_an_unpinned_line_fails(tmp_path: Path) -> None:
    production = f"django>=5.2 \\\n    {HASH}\n"
    problems = _project(tmp_path, ["django>=5.2"], [], production, production)
    assert any("is not pinned with ==" in problem for problem in problems)


def test_production_must_pin_what_the_tests_ran_on(tmp_path: Path) -> None:
    problems = _project(tmp_path, ["django>=5.2"], [], _pin("django==5.2.2"), _pin("django==5.2.1"))
    assert problems == [
        "requirements/production.lock:1 pins django==5.2.2 but requirements/dev.lock has 5.2.1"
    ]


def test_a_dependency_removed_from_pyproject_fails(tmp_path: Path) -> None:
    production = _pin("django==5.2.1") + _pin("geopy==2.5.0")
    problems = _project(tmp_path, ["django>=5.2"], [], production, production)
    assert any("locks geopy, which pyproject.toml no longer requires" in p for p in problems)


def test_universal_pins_for_several_pythons_are_all_checked(tmp_path: Path) -> None:
    production = _pin("networkx==3.6.1 ; python_full_version < '3.12'") + _pin(
        "networkx==3.7 ; python_full_version >= '3.12'"
    )
    assert _project(tmp_path, ["networkx>=3.6"], [], production, production) == []
    assert len(_project(tmp_path, ["networkx>=3.6,<3.7"], [], production, production)) == 2


def test_the_lock_files_are_universal_with_aarch64_wheels_hashed() -> None:
    """uv's universal mode hashes every file of each pinned version: one lock for x86_64 and
    aarch64 (checked once with `pip install --dry-run --platform manylinux_2_28_aarch64`)."""
    lock = (ROOT / "requirements" / "production.lock").read_text()
    pins = re.findall(r"^([a-z0-9._-]+)(?:\[[^\]]*\])?==", lock, re.MULTILINE)
    assert {"django", "psycopg-binary", "setuptools", "gunicorn"} <= set(pins)
    block = re.search(r"^psycopg-binary==.*?(?=^\S)", lock, re.MULTILINE | re.DOTALL)
    assert block
    assert block.group(0).count("--hash=sha256:") > 10, "wheels of several platforms"
