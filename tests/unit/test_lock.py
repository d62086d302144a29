"""requirements/lock.txt and lock-runtime.txt against pyproject.toml: every install (setup, CI, the
benchmarks, the Docker image) takes its versions from them, so they must say what pyproject says.
When one of these fails after a change to pyproject's dependencies: ./bazaar.sh lock."""

from __future__ import annotations

import re
from importlib import metadata
from pathlib import Path

import pytest
from packaging.markers import Marker
from packaging.requirements import Requirement

from bazaar.lockfile import LOCK, PYPROJECT, ROOT, RUNTIME_LOCK, dependency_digest, dependency_lists, normalize, pins, recorded_digest

pytestmark = pytest.mark.unit

REFRESH = "pyproject.toml changed since the lock was made: run ./bazaar.sh lock"


def direct(*groups: str) -> list[Requirement]:
    lists = dependency_lists()
    found = []
    for group in groups:
        found += lists["dependencies"] if group == "base" else lists["optional-dependencies"][group]
    return [Requirement(r) for r in found]


def applies(marker: str | None) -> bool:
    return marker is None or Marker(marker).evaluate()


@pytest.mark.parametrize("lock", [LOCK, RUNTIME_LOCK], ids=lambda p: p.name)
def test_lock_was_made_from_the_current_pyproject(lock: Path):
    assert recorded_digest(lock) == dependency_digest(), f"{lock.name}: {REFRESH}"


@pytest.mark.parametrize(
    "lock, groups", [(LOCK, ("base", "test", "bench", "build")), (RUNTIME_LOCK, ("base",))], ids=["lock.txt", "lock-runtime.txt"]
)
def test_every_direct_dependency_is_locked_at_a_version_pyproject_admits(lock: Path, groups):
    locked = {}
    for pin in pins(lock):
        if applies(pin.marker):
            locked[pin.name] = pin.version
    for req in direct(*groups):
        name = normalize(req.name)
        assert name in locked, f"{req} is not in {lock.name}: {REFRESH}"
        assert req.specifier.contains(locked[name], prereleases=True), (
            f"{lock.name} has {name}=={locked[name]}, pyproject asks {req}: {REFRESH}"
        )


def test_the_runtime_lock_is_the_base_dependencies_at_the_versions_of_the_full_lock():
    full = {(p.name, p.version, p.marker) for p in pins(LOCK)}
    runtime = {(p.name, p.version, p.marker) for p in pins(RUNTIME_LOCK)}
    assert runtime <= full, f"versions differ between the locks: {sorted(runtime - full)}"
    runtime_names = {name for name, _, _ in runtime}
    base = {normalize(r.name) for r in direct("base")}
    extras_only = {normalize(r.name) for r in direct("test", "bench", "build")} - base
    assert base <= runtime_names
    assert not extras_only & runtime_names, "test, bench or build packages in the image's lock"
    # the package behind the SIGSEGV investigation: one librdkafka for tests and production
    assert {v for n, v, _ in runtime if n == "confluent-kafka"} == {v for n, v, _ in full if n == "confluent-kafka"}


@pytest.mark.parametrize("lock", [LOCK, RUNTIME_LOCK], ids=lambda p: p.name)
def test_every_pin_has_a_hash_and_appears_once_per_environment(lock: Path):
    seen: dict[str, str] = {}
    for pin in pins(lock):
        assert pin.hashes and all(h.startswith("sha256:") for h in pin.hashes), (
            f"{pin.name} has no hash: pip --require-hashes refuses the lock"
        )
        if applies(pin.marker):
            assert pin.name not in seen, f"{pin.name} pinned twice for this environment"
            seen[pin.name] = pin.version


def test_the_digest_follows_the_dependency_lists_and_nothing_else(tmp_path):
    text = PYPROJECT.read_text()
    pin = re.search(r'"confluent-kafka[^"]*"', text)
    assert pin, "pyproject.toml names confluent-kafka"
    variants = {
        "comment": text.replace("[project.optional-dependencies]", "# a comment\n[project.optional-dependencies]"),
        "version": text.replace(pin[0], '"confluent-kafka==9.9.9"'),
        "extra": text.replace('"pytest>=8",', '"pytest>=8",\n  "six",'),
    }
    digests = {}
    for name, variant in variants.items():
        path = tmp_path / f"{name}.toml"
        path.write_text(variant)
        digests[name] = dependency_digest(path)
    current = dependency_digest()
    assert digests["comment"] == current
    assert digests["version"] != current and digests["extra"] != current


def test_the_running_environment_is_the_locked_one():
    """What the tests run is what the lock says (./bazaar.sh setup installs it when the lock changes)."""
    differ = []
    for pin in pins(LOCK):
        if not applies(pin.marker):
            continue
        try:
            installed = metadata.version(pin.name)
        except metadata.PackageNotFoundError:
            installed = None
        if installed != pin.version:
            differ.append(f"{pin.name}: lock {pin.version}, installed {installed}")
    assert not differ, "run ./bazaar.sh setup; " + "; ".join(differ)


def test_setup_and_the_image_install_from_the_locks():
    script = (ROOT / "bazaar.sh").read_text()
    assert "--no-deps --require-hashes -r requirements/lock.txt" in script
    assert "--no-deps -e ." in script
    assert re.search(r"digest pyproject\.toml requirements/lock\.txt", script), "setup's stamp must change with the lock"
    dockerfile = (ROOT / "deploy" / "Dockerfile").read_text()
    assert "--no-deps --require-hashes -r requirements/lock-runtime.txt" in dockerfile
    assert re.search(r"pip install [^\n]*--no-deps [^\n]*\.$", dockerfile, re.M), "the image installs the project without resolving"
    assert (ROOT / ".ci" / "run").read_text().rstrip().endswith("exec ./bazaar.sh test")
