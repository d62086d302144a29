"""The README stays a front door and the reference in docs/ stays true to the code: the README is
at most 15,000 bytes and names every `bazaar` subcommand, no relative link in README.md or docs/
points to a missing file (or a missing heading of a markdown file), and docs/operations.md
documents every ``BAZAAR_`` setting."""

from __future__ import annotations

import importlib
import re
import unicodedata
from pathlib import Path
from urllib.parse import unquote

import pytest

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
DOCS = ROOT / "docs"
README_MAX_BYTES = 15_000

_LINK = re.compile(r"(?<!!)\[[^\]]*\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)")
_FENCE = re.compile(r"^(```|~~~).*?^\1", re.S | re.M)
_CODE_SPAN = re.compile(r"`[^`\n]*`")


def documents() -> list[Path]:
    return [README, *sorted(DOCS.glob("*.md"))]


def links(text: str) -> list[str]:
    """Link targets of a markdown text, outside code blocks and code spans."""
    text = _CODE_SPAN.sub("", _FENCE.sub("", text))
    return _LINK.findall(text)


def is_relative(target: str) -> bool:
    return not re.match(r"^[a-z][a-z0-9+.-]*:", target, re.I) and not target.startswith("//")


def slug(heading: str) -> str:
    """A heading's anchor as GitHub makes it: lower case, punctuation dropped (letters, digits,
    spaces, hyphens and underscores kept), spaces to hyphens."""
    text = heading.strip().lower()
    kept = "".join(ch for ch in text if ch in " -_" or unicodedata.category(ch)[0] in "LN")
    return kept.replace(" ", "-")


def anchors(path: Path) -> set[str]:
    text = _FENCE.sub("", path.read_text(encoding="utf-8"))
    seen: dict[str, int] = {}
    out = set()
    for heading in re.findall(r"^#{1,6}\s+(.+?)\s*#*\s*$", text, re.M):
        base = slug(heading)
        n = seen.get(base, 0)
        seen[base] = n + 1
        out.add(base if n == 0 else f"{base}-{n}")
    return out


def broken_links(path: Path) -> list[str]:
    broken = []
    for target in links(path.read_text(encoding="utf-8")):
        if not is_relative(target):
            continue
        file_part, _, fragment = target.partition("#")
        dest = path if not file_part else (path.parent / unquote(file_part)).resolve()
        if not dest.exists():
            broken.append(f"{target}: no such file")
        elif fragment and dest.suffix == ".md" and unquote(fragment).lower() not in anchors(dest):
            broken.append(f"{target}: no heading #{fragment} in {dest.name}")
    return broken


def settings_class():
    for module in ("bazaar_core.settings", "bazaar_core.settings"):
        try:
            return importlib.import_module(module).Settings
        except ModuleNotFoundError as exc:
            if exc.name is None or not module.startswith(exc.name):
                raise
    raise AssertionError("no Settings class in bazaar_core.settings or bazaar_core.settings")


def test_readme_is_a_front_door() -> None:
    size = len(README.read_bytes())
    assert size <= README_MAX_BYTES, f"README.md is {size:,} bytes (at most {README_MAX_BYTES:,}): move reference to docs/"


def test_readme_names_every_subcommand() -> None:
    from bazaar.cli import COMMANDS

    text = README.read_text(encoding="utf-8")
    missing = [name for name in COMMANDS if not re.search(rf"`bazaar {re.escape(name)}\b", text)]
    assert not missing, f"README.md's command table lacks: {', '.join(missing)}"


@pytest.mark.parametrize("path", documents(), ids=lambda p: str(p.relative_to(ROOT)))
def test_relative_links_resolve(path: Path) -> None:
    assert not broken_links(path), f"{path.relative_to(ROOT)}: " + "; ".join(broken_links(path))


def test_every_setting_is_documented() -> None:
    text = (DOCS / "operations.md").read_text(encoding="utf-8")
    fields = settings_class().model_fields
    assert fields
    missing = [f"BAZAAR_{name.upper()}" for name in fields if not re.search(rf"\bBAZAAR_{name.upper()}(?![A-Z0-9_])", text)]
    assert not missing, f"docs/operations.md does not document: {', '.join(missing)}"


def test_the_checks_catch_what_they_guard(tmp_path: Path) -> None:
    """The link check reports a missing file and a missing heading, and ignores code and URLs."""
    (tmp_path / "there.md").write_text("# A heading: `with code`\n\n## Same\n\n## Same\n", encoding="utf-8")
    doc = tmp_path / "doc.md"
    doc.write_text(
        "[ok](there.md) [ok](there.md#a-heading-with-code) [ok](there.md#same-1) [url](https://example.org/x)\n"
        "[gone](missing.md) [bad anchor](there.md#nowhere) `[in code](nope.md)`\n"
        "```\n[in a fence](nope.md)\n```\n",
        encoding="utf-8",
    )
    assert [b.split(":")[0] for b in broken_links(doc)] == ["missing.md", "there.md#nowhere"]
