"""`make lock-check`: the lock files still match pyproject.toml (offline, deterministic).

Fails when a requirement of pyproject.toml (runtime, dev extra, build backend) is missing from a
lock file, pinned at a version its specifier excludes, pinned without one of its extras, or when a
pin has no hash; when requirements/production.lock pins a package at another version than
requirements/dev.lock (the tests must run on what production installs); and when a package that
only pyproject.toml asked for is still locked after it left pyproject.toml. The fix is always
`make lock`. Reads files only: no network, no installed metadata.
"""

from __future__ import annotations

import re
import sys
import tomllib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parent.parent
_HASH = re.compile(r"--hash=sha256:[0-9a-f]{64}")
# uv's annotation of a package the project itself asked for.
_PROJECT_SOURCE = "(pyproject.toml)"
# The lock files are universal; a requirement whose marker excludes the target is not required.
_TARGET_ENVIRONMENT = {
    "python_version": "3.11",
    "python_full_version": "3.11.2",
    "implementation_name": "cpython",
    "platform_python_implementation": "CPython",
    "sys_platform": "linux",
    "platform_system": "Linux",
    "os_name": "posix",
    "platform_machine": "x86_64",
}


@dataclass
class Pin:
    requirement: Requirement
    version: str
    hashes: list[str]
    line: int
    sources: set[str] = field(default_factory=set)

    @property
    def name(self) -> str:
        return canonicalize_name(self.requirement.name)


def read_lock(path: Path) -> tuple[list[Pin], list[str]]:
    """Every pin of a `pip install --require-hashes` requirements file, and what is wrong in it."""
    pins: list[Pin] = []
    problems: list[str] = []
    logical = ""
    start = 0
    lines = path.read_text(encoding="utf-8").splitlines()
    for number, raw in enumerate([*lines, ""], start=1):
        stripped = raw.strip()
        if pins and not logical and stripped.startswith("#"):
            _read_annotation(stripped, pins[-1])
            continue
        if not logical:
            start = number
        if stripped.endswith("\\"):
            logical += " " + stripped[:-1]
            continue
        logical = (logical + " " + stripped).strip()
        statement, _, _comment = logical.partition(" #")
        statement = statement.strip()
        logical = ""
        if not statement or statement.startswith("#"):
            continue
        if statement.startswith("-"):
            problems.append(f"{path.name}:{start}: unexpected option line {statement.split()[0]!r}")
            continue
        parts = statement.split()
        hashes = [part for part in parts if part.startswith("--hash=")]
        requirement_text = " ".join(part for part in parts if not part.startswith("--hash="))
        try:
            requirement = Requirement(requirement_text)
        except InvalidRequirement as error:
            problems.append(f"{path.name}:{start}: cannot read {requirement_text!r}: {error}")
            continue
        specifiers = list(requirement.specifier)
        if len(specifiers) != 1 or specifiers[0].operator != "==" or "*" in specifiers[0].version:
            problems.append(f"{path.name}:{start}: {requirement_text!r} is not pinned with ==")
            continue
        if not hashes:
            problems.append(f"{path.name}:{start}: {requirement.name} has no --hash")
        for bad in (digest for digest in hashes if not _HASH.fullmatch(digest)):
            problems.append(f"{path.name}:{start}: {requirement.name}: malformed {bad!r}")
        pins.append(Pin(requirement, specifiers[0].version, hashes, start))
    return pins, problems


def _read_annotation(comment: str, pin: Pin) -> None:
    """uv's `# via a` / `# via` + `#   a` lines after a pin: who asked for it."""
    text = comment.lstrip("#").strip()
    if text.startswith("via"):
        text = text[len("via") :].strip()
    if text:
        pin.sources.add(text)


def _applies(requirement: Requirement) -> bool:
    return requirement.marker is None or requirement.marker.evaluate(_TARGET_ENVIRONMENT)


def check(
    pyproject: Path,
    production_lock: Path,
    dev_lock: Path,
    build_in: Path | None = None,
) -> list[str]:
    """What is out of step between pyproject.toml and the two lock files (empty: all good)."""
    config = tomllib.loads(pyproject.read_text(encoding="utf-8"))
    project = config.get("project", {})
    runtime = [Requirement(text) for text in project.get("dependencies", [])]
    dev = [Requirement(text) for text in project.get("optional-dependencies", {}).get("dev", [])]
    build = [Requirement(text) for text in config.get("build-system", {}).get("requires", [])]
    if build_in is not None and build_in.exists():
        build += [Requirement(text) for text in _requirement_lines(build_in)]

    problems: list[str] = []
    production_pins, found = read_lock(production_lock)
    problems += found
    dev_pins, found = read_lock(dev_lock)
    problems += found

    problems += _missing(production_lock, production_pins, [*runtime, *build])
    problems += _missing(dev_lock, dev_pins, [*runtime, *dev, *build])
    problems += _diverging(production_lock, production_pins, dev_lock, dev_pins)
    direct: set[str] = {canonicalize_name(r.name) for r in [*runtime, *build]}
    problems += _stale(production_lock, production_pins, direct)
    problems += _stale(dev_lock, dev_pins, direct | {canonicalize_name(r.name) for r in dev})
    return problems


def _requirement_lines(path: Path) -> Iterable[str]:
    for line in path.read_text(encoding="utf-8").splitlines():
        text = line.split("#", 1)[0].strip()
        if text:
            yield text


def _missing(lock: Path, pins: Sequence[Pin], required: Iterable[Requirement]) -> list[str]:
    by_name: dict[str, list[Pin]] = {}
    for pin in pins:
        by_name.setdefault(pin.name, []).append(pin)
    problems = []
    for requirement in required:
        if not _applies(requirement):
            continue
        candidates = by_name.get(canonicalize_name(requirement.name), [])
        where = f"requirements/{lock.name}"
        if not candidates:
            problems.append(f"{requirement} is in pyproject.toml but not in {where}")
            continue
        for pin in candidates:
            if not requirement.specifier.contains(pin.version, prereleases=True):
                problems.append(
                    f"{requirement} is in pyproject.toml but {where}:{pin.line} pins "
                    f"{pin.requirement.name}=={pin.version}"
                )
            extras = {canonicalize_name(e) for e in requirement.extras}
            missing = extras - {canonicalize_name(e) for e in pin.requirement.extras}
            if missing:
                problems.append(
                    f"{requirement} is in pyproject.toml but {where}:{pin.line} locks "
                    f"{pin.requirement.name} without the extra(s) {', '.join(sorted(missing))}"
                )
    return problems


def _diverging(
    production_lock: Path, production: Sequence[Pin], dev_lock: Path, dev: Sequence[Pin]
) -> list[str]:
    dev_versions: dict[str, set[str]] = {}
    for pin in dev:
        dev_versions.setdefault(pin.name, set()).add(pin.version)
    problems = []
    for pin in production:
        if pin.version not in dev_versions.get(pin.name, set()):
            problems.append(
                f"requirements/{production_lock.name}:{pin.line} pins {pin.name}=={pin.version} "
                f"but requirements/{dev_lock.name} has "
                f"{', '.join(sorted(dev_versions.get(pin.name, set()))) or 'none'}"
            )
    return problems


def _stale(lock: Path, pins: Sequence[Pin], direct: set[str]) -> list[str]:
    """A pin only pyproject.toml asked for, which pyproject.toml no longer lists."""
    problems = []
    for pin in pins:
        askers = {source for source in pin.sources if not source.startswith("-c ")}
        if (
            askers
            and all(source.endswith(_PROJECT_SOURCE) for source in askers)
            and pin.name not in direct
        ):
            problems.append(
                f"requirements/{lock.name}:{pin.line} locks {pin.name}, which pyproject.toml "
                "no longer requires"
            )
    return problems


def main(argv: Sequence[str] = ()) -> int:
    root = Path(argv[0]) if argv else ROOT
    problems = check(
        root / "pyproject.toml",
        root / "requirements" / "production.lock",
        root / "requirements" / "dev.lock",
        root / "requirements" / "build.in",
    )
    if problems:
        sys.stderr.write(
            "The lock files are out of step with pyproject.toml:\n"
            + "".join(f"  - {problem}\n" for problem in problems)
            + "Run `make lock` and commit requirements/*.lock.\n"
        )
        return 1
    sys.stdout.write("requirements/*.lock match pyproject.toml; every pin is hashed.\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
