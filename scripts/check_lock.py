"""Check that the lock files pin a version of every requirement in pyproject.toml that fits it.

`make setup` installs requirements.lock and then the project with ``--no-deps``, so a requirement
added to pyproject.toml without `make lock` would otherwise go missing on a fresh clone (and be
missed here, where it may already be installed by hand). Reads the project's requirements from
its installed metadata (run after ``pip install -e .``); requirements.lock must cover the runtime
requirements and the ``test`` extra, requirements-runtime.lock the runtime ones. Exit status 1
names what is missing and how to fix it.
"""

from __future__ import annotations

import re
import sys
from importlib.metadata import requires
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

PROJECT = "depthlens"
ROOT = Path(__file__).resolve().parent.parent
LOCKS = {"requirements.lock": "test", "requirements-runtime.lock": None}  # lock file: extra
PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s;\\]+)", re.MULTILINE)


def pins(lock: Path) -> dict[str, str]:
    """Package name (canonical) -> pinned version, from a pip-compile output file."""
    return {canonicalize_name(name): version for name, version in PIN.findall(lock.read_text())}


def uncovered(lock: Path, extra: str | None) -> list[str]:
    """The project's requirements (with ``extra``) that ``lock`` pins to no fitting version."""
    pinned, problems = pins(lock), []
    for requirement in map(Requirement, requires(PROJECT) or []):
        if requirement.marker and not requirement.marker.evaluate({"extra": extra or ""}):
            continue
        version = pinned.get(canonicalize_name(requirement.name))
        if version is None:
            problems.append(f"{lock.name}: {requirement} is not pinned")
        elif not requirement.specifier.contains(version, prereleases=True):
            problems.append(f"{lock.name}: {requirement} is pinned to {version}")
    return problems


def main() -> int:
    problems = [p for name, extra in LOCKS.items() for p in uncovered(ROOT / name, extra)]
    if problems:
        print("the lock files do not cover pyproject.toml; run `make lock`, then `make setup`:",
              *problems, sep="\n  ", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
