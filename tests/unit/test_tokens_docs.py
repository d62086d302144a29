"""The role tables of docs/access.md and the README are what ``domain.access`` and
``domain.ratelimit`` say (``bazaar auth roles`` renders them), so the documents cannot drift."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from bazaar.auth_cmd import roles_markdown
from domain.access import ROLE_PERMISSIONS, Permission, Role
from domain.ratelimit import ROLE_LIMITS

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[2]
MARKED = re.compile(r"<!-- roles:begin -->\n(.*?)<!-- roles:end -->", re.S)


def marked(path: Path) -> str:
    found = MARKED.findall(path.read_text(encoding="utf-8"))
    assert len(found) == 1, f"{path.name}: one <!-- roles:begin --> ... <!-- roles:end --> block"
    return found[0]


def test_access_md_shows_the_roles_and_limits_of_the_code():
    assert marked(ROOT / "docs" / "access.md") == roles_markdown(), "paste `bazaar auth roles` into docs/access.md"


def test_the_readme_shows_the_permission_table_of_the_code():
    assert marked(ROOT / "README.md") == roles_markdown().split("\n\n")[0] + "\n", "paste `bazaar auth roles` (first table) into README.md"


def test_the_rendering_follows_the_tables():
    rows = {line.split(" | ")[0].strip("| `"): line for line in roles_markdown().splitlines() if line.startswith("| `")}
    assert set(rows) == {p.value for p in Permission}
    columns = [r.value for r in Role]
    for p in Permission:
        cells = [c.strip() for c in rows[p.value].strip("|").split("|")[1:]]
        assert [role for role, cell in zip(columns, cells) if cell == "✓"] == [r.value for r in Role if p in ROLE_PERMISSIONS[r]]
    limits = {line.split(" | ")[0].strip("| "): line for line in roles_markdown().splitlines() if line.startswith(("| admin", "| ops"))}
    assert limits["admin"].rstrip(" |").endswith(f"{ROLE_LIMITS[Role.ADMIN].rate:g} | {ROLE_LIMITS[Role.ADMIN].burst}")
