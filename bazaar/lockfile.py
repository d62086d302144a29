"""What ties the dependency locks in requirements/ to pyproject.toml (standard library only).

``./bazaar.sh lock`` resolves pyproject's dependencies with uv, with hashes, into
``requirements/lock.txt`` (the base dependencies plus the test, bench and build extras: what setup,
CI and the benchmarks install) and ``requirements/lock-runtime.txt`` (the base dependencies alone at the
same versions: what the Docker image installs). Each file's header records a digest of the
dependency lists it was resolved from, so that tests/unit/test_lock.py fails once pyproject's lists
change without a refresh.

``python -m bazaar.lockfile header [PYPROJECT]`` prints that header line (bazaar.sh runs it with the
system Python: no venv needed).
"""

from __future__ import annotations

import hashlib
import json
import re
import sys
import tomllib
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PYPROJECT = ROOT / "pyproject.toml"
LOCK = ROOT / "requirements" / "lock.txt"
RUNTIME_LOCK = ROOT / "requirements" / "lock-runtime.txt"
DIGEST_PREFIX = "# pyproject-dependencies-sha256: "

# `name==version` (optionally `; marker`) at the start of a line; hashes and comments follow it
_PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s;\\]+)\s*(?:;\s*([^\\]+?))?\s*\\?\s*$")


def normalize(name: str) -> str:
    """PEP 503: `Mode_Streaming` and `mode-streaming` are one project."""
    return re.sub(r"[-_.]+", "-", name).lower()


def dependency_lists(pyproject: Path = PYPROJECT) -> dict:
    """The parts of pyproject.toml a lock is resolved from (comments and layout left out)."""
    project = tomllib.loads(pyproject.read_text())["project"]
    return {
        "requires-python": project.get("requires-python", ""),
        "dependencies": list(project.get("dependencies", [])),
        "optional-dependencies": {k: list(v) for k, v in sorted(project.get("optional-dependencies", {}).items())},
    }


def dependency_digest(pyproject: Path = PYPROJECT) -> str:
    canonical = json.dumps(dependency_lists(pyproject), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


def recorded_digest(lock: Path) -> str | None:
    """The digest in a lock's header, None when it has none."""
    for line in lock.read_text().splitlines():
        if line.startswith(DIGEST_PREFIX):
            return line[len(DIGEST_PREFIX) :].strip()
        if line and not line.startswith("#"):
            break
    return None


@dataclass(frozen=True)
class Pin:
    name: str  # normalized
    version: str
    marker: str | None  # an environment marker, as written (a universal lock may pin per platform)
    hashes: tuple[str, ...]


def pins(lock: Path) -> list[Pin]:
    """Every `name==version` of a lock with its marker and hashes."""
    found: list[Pin] = []
    current: tuple[str, str, str | None] | None = None
    hashes: list[str] = []

    def close() -> None:
        if current is not None:
            found.append(Pin(*current, tuple(hashes)))

    for raw in lock.read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        match = _PIN.match(raw)
        if match:
            close()
            current, hashes = (normalize(match[1]), match[2], match[3]), []
            continue
        for part in line.rstrip("\\").split():
            if part.startswith("--hash="):
                hashes.append(part[len("--hash=") :])
            else:
                raise ValueError(f"{lock}: unexpected line {raw!r}")
    close()
    return found


def main(argv: list[str]) -> int:
    if not argv or argv[0] != "header" or len(argv) > 2:
        print("usage: python -m bazaar.lockfile header [PYPROJECT]", file=sys.stderr)
        return 2
    print(DIGEST_PREFIX + dependency_digest(Path(argv[1]) if len(argv) > 1 else PYPROJECT))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
