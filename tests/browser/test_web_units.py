"""The web app's own unit tests (decimal helper, search, events, outbox rules, i18n): node --test."""

from __future__ import annotations

import shutil
import subprocess

import pytest

from tests.browser.conftest import WEB

pytestmark = pytest.mark.browser


def test_node_unit_tests_pass():
    node = shutil.which("node")
    assert node, "node is needed for the web app (./bazaar.sh setup builds it with npm)"
    files = sorted(str(p.relative_to(WEB)) for p in (WEB / "test").glob("*.test.js"))
    assert files
    out = subprocess.run([node, "--test", *files], cwd=WEB, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stdout[-4000:] + out.stderr[-2000:]
    assert "# fail 0" in out.stdout
