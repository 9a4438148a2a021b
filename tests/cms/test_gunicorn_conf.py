"""deploy/gunicorn.conf.py sizes its workers from the CPUs the container may use, not the host's."""

import ast
import os
import runpy
from pathlib import Path
from typing import Any

import pytest

CONF = Path(__file__).resolve().parents[2] / "deploy" / "gunicorn.conf.py"


def _load(monkeypatch: pytest.MonkeyPatch, workers: str | None = None) -> dict[str, Any]:
    if workers is None:
        monkeypatch.delenv("GUNICORN_WORKERS", raising=False)
    else:
        monkeypatch.setenv("GUNICORN_WORKERS", workers)
    return runpy.run_path(str(CONF))


@pytest.fixture
def eight_cpus(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: set(range(8)), raising=False)


@pytest.mark.parametrize(
    ("cpu_max", "expected"),
    [
        ("max 100000\n", 8),  # no quota: the affinity
        ("200000 100000\n", 2),  # a 2-CPU limit on an 8-CPU host
        ("150000 100000\n", 2),  # 1.5 CPUs: rounded up
        ("50000 100000\n", 1),  # half a CPU: still one
        ("1600000 100000\n", 8),  # a quota above the affinity: the affinity
        ("garbage\n", 8),
        ("", 8),
        ("100000 0\n", 8),
    ],
)
def test_cpus_are_the_affinity_bounded_by_the_cgroup_quota(
    monkeypatch: pytest.MonkeyPatch, eight_cpus: None, tmp_path: Path, cpu_max: str, expected: int
) -> None:
    container_cpus = _load(monkeypatch)["container_cpus"]
    limits = tmp_path / "cpu.max"
    limits.write_text(cpu_max)
    assert container_cpus(str(limits)) == expected


def test_without_a_cgroup_file_the_affinity_counts(
    monkeypatch: pytest.MonkeyPatch, eight_cpus: None, tmp_path: Path
) -> None:
    container_cpus = _load(monkeypatch)["container_cpus"]
    assert container_cpus(str(tmp_path / "missing")) == 8


def test_the_affinity_not_the_host_cpu_count(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {3}, raising=False)
    monkeypatch.setattr(os, "cpu_count", lambda: 64)
    container_cpus = _load(monkeypatch)["container_cpus"]
    assert container_cpus(str(tmp_path / "missing")) == 1


def test_workers_default_to_twice_the_cpus_plus_one(monkeypatch: pytest.MonkeyPatch) -> None:
    settings = _load(monkeypatch)
    assert settings["workers"] == settings["container_cpus"]() * 2 + 1


def test_gunicorn_workers_overrides(monkeypatch: pytest.MonkeyPatch) -> None:
    assert _load(monkeypatch, workers="3")["workers"] == 3


def test_reading_the_settings_imports_no_django(monkeypatch: pytest.MonkeyPatch) -> None:
    """gunicorn reads this file before it loads the application: an import of Django or the
    project at its top would run before DJANGO_SETTINGS_MODULE is set. Only the hooks, called
    once the application is loaded, import the project (cms.warm)."""
    tree = ast.parse(CONF.read_text())
    top = [node for node in tree.body if isinstance(node, ast.Import | ast.ImportFrom)]
    names = [alias.name for node in top if isinstance(node, ast.Import) for alias in node.names]
    names += [node.module or "" for node in top if isinstance(node, ast.ImportFrom)]
    assert names
    assert not [name for name in names if name.split(".")[0] in {"django", "cms"}]
    hooks = [
        node.name
        for node in ast.walk(tree)
        if isinstance(node, ast.FunctionDef)
        and any(
            isinstance(inner, ast.ImportFrom) and (inner.module or "").startswith("cms")
            for inner in ast.walk(node)
        )
    ]
    assert hooks == ["_warm"]


@pytest.mark.parametrize(("value", "preload"), [(None, True), ("false", False), ("0", False)])
def test_the_application_is_preloaded_in_the_master_unless_told_not_to(
    monkeypatch: pytest.MonkeyPatch, value: str | None, preload: bool
) -> None:
    if value is None:
        monkeypatch.delenv("GUNICORN_PRELOAD", raising=False)
    else:
        monkeypatch.setenv("GUNICORN_PRELOAD", value)
    conf = _load(monkeypatch)
    assert conf["preload_app"] is preload
    warmed: list[str] = []
    monkeypatch.setattr("cms.warm.warm", lambda: warmed.append("warm"))
    conf["when_ready"](None)  # the master, before the first fork
    conf["post_worker_init"](None)  # each worker
    assert warmed == ["warm"]  # once, in one place or the other
