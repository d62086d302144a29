"""The benchmarks authenticate like any client, and set their stacks up as ``bazaar up`` does.

For each stage's settings (its own data dir, topics and so auth dir): ``bazaar auth init`` (signing
key, admin key; as a child process, as an operator runs it), then

* against the API: the admin key, exchanged for access tokens by the load client itself
  (``bench.children.api_client``) or ``bazaar_core.client_auth.KeyAuth``;
* against a worker's or the analytics process's pages where no API runs (the stream, scale and
  recovery stages): a token from ``bazaar auth token --ttl``, as a script reading ``/status`` or
  ``/metrics`` gets one.

With ``auth_required`` false (a deliberate without-auth comparison) there is nothing to do and no
header is sent. The benchmark's own pace is not what a credential's rate limit is for:
``UNLIMITED`` is the stages' ``rate_limits`` override for the admin role they use.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from pathlib import Path

from bazaar_core.settings import Settings

TOKEN_TTL_S = 86_400  # the longest `bazaar auth token` makes: longer than any run
UNLIMITED = {"admin": (1_000_000.0, 1_000_000)}  # (per second, burst)
# every load client exchanges its key from 127.0.0.1: the per-address limit is against guessing, not this
PER_ADDRESS = (1_000.0, 1_000)

_lock = threading.Lock()
_made: dict[Path, tuple[str, dict[str, str]]] = {}  # auth_path -> (admin key, headers)


ROOT = Path(__file__).resolve().parent.parent


def _bazaar(settings: Settings, *args: str) -> str:
    # (bench.procs.settings_env's environment: that module uses this one, so not imported from it)
    env = {**os.environ, **{k: v for k, v in settings.to_env().items() if v != "null"}}
    env["PYTHONPATH"] = str(ROOT) + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    done = subprocess.run([sys.executable, "-m", "bazaar.cli", "auth", *args], env=env, capture_output=True, text=True, timeout=120)
    if done.returncode != 0:
        raise RuntimeError(f"bazaar auth {' '.join(args)} failed ({done.returncode}): {done.stderr.strip()[-500:]}")
    return done.stdout.strip()


def prepare(settings: Settings) -> tuple[str, dict[str, str]]:
    """(the admin key, the ``Authorization`` header of a long-lived admin token) of ``settings``' stack,
    made once per auth dir (its topics must exist); ("", {}) with auth off."""
    if not settings.auth_required:
        return "", {}
    with _lock:
        held = _made.get(settings.auth_path)
        if held is None:
            _bazaar(settings, "init")
            key = (settings.auth_path / "admin.key").read_text().strip()
            token = _bazaar(settings, "token", "--ttl", str(TOKEN_TTL_S))
            held = _made[settings.auth_path] = (key, {"Authorization": f"Bearer {token}"})
        return held


def headers(settings: Settings) -> dict[str, str]:
    return prepare(settings)[1]


def admin_key(settings: Settings) -> str:
    return prepare(settings)[0]
