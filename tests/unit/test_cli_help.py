"""`bazaar --help` and `bazaar X --help` answer at once, in a fresh process each, and say what they
must; building the parser for a subcommand imports neither Faust nor chDB nor any other module the
job itself needs; `bazaar up` names every child it starts, in its help and its ready line."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time

import pytest

from bazaar.cli import COMMANDS
from bazaar.up import Stack, ready_line
from bazaar_core.settings import Settings

pytestmark = pytest.mark.unit

HELP_WITHIN_S = 5.0  # a fresh interpreter answering --help on a busy 2-core machine
# what only running a job needs; a --help that imports one of these pays for it before answering
HEAVY = (
    "faust",
    "mode",
    "aiokafka",
    "chdb",
    "clickhouse_connect",
    "fastapi",
    "starlette",
    "uvicorn",
    "rocksdict",
    "quixstreams",
    "pandas",
    "pyarrow",
    "playwright",
    "aiohttp",
)


def bazaar(*args: str) -> tuple[subprocess.CompletedProcess, float]:
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-m", "bazaar.cli", *args], capture_output=True, text=True, timeout=60, env={**os.environ, "COLUMNS": "200"}
    )
    return done, time.monotonic() - started


def test_bazaar_help_lists_every_subcommand_at_once():
    done, took = bazaar("--help")
    assert done.returncode == 0, done.stderr
    assert took < HELP_WITHIN_S, f"bazaar --help took {took:.1f} s"
    for name in COMMANDS:
        assert re.search(rf"^ +{name}\b", done.stdout, re.M), f"{name} missing from:\n{done.stdout}"


@pytest.mark.parametrize("command", list(COMMANDS))
def test_subcommand_help_answers_at_once(command: str):
    done, took = bazaar(command, "--help")
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith(f"usage: bazaar {command} "), done.stdout
    assert took < HELP_WITHIN_S, f"bazaar {command} --help took {took:.1f} s"


@pytest.mark.parametrize("command", ["", *COMMANDS])
def test_help_imports_nothing_heavy(command: str):
    argv = [command, "--help"] if command else ["--help"]
    probe = (
        "import sys, contextlib, io\n"
        "from bazaar import cli\n"
        "with contextlib.redirect_stdout(io.StringIO()), contextlib.suppress(SystemExit):\n"
        f"    cli.main({argv!r})\n"
        f"print(' '.join(sorted({{m.split('.')[0] for m in sys.modules}} & set({HEAVY!r}))))\n"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "", f"bazaar {command} --help imported {done.stdout.strip()}"


def test_up_help_names_every_child():
    done, _ = bazaar("up", "--help")
    text = done.stdout.lower()
    for child in ("broker", "worker", "api", "notifier", "analytics"):
        assert child in text, f"`bazaar up --help` does not name the {child}:\n{done.stdout}"


def test_only_the_chosen_subcommand_module_is_imported():
    probe = (
        "import sys\n"
        "from bazaar import cli\n"
        "cli.build_parser(['schema']).parse_args(['schema'])\n"
        "print(' '.join(sorted(m for _, (m, _h) in cli.COMMANDS.items() if m in sys.modules)))\n"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["bazaar.schema_cmd"]


def test_ready_line_names_where_every_child_answers(tmp_path):
    settings = Settings(
        data_dir=tmp_path,
        kafka_bootstrap="127.0.0.1:19092",
        api_host="127.0.0.1",
        api_port=18000,
        worker_host="127.0.0.1",
        worker_port=16066,
        notifier_host="127.0.0.1",
        notifier_port=16070,
        analytics_port=16068,
        analytics_url="http://127.0.0.1:16068",
    )
    line = ready_line(Stack(settings, workers=2))
    assert line.startswith("ready: API on http://127.0.0.1:18000, workers on http://127.0.0.1:16066, http://127.0.0.1:16067, ")
    assert "notifier on http://127.0.0.1:16070" in line and "analytics on http://127.0.0.1:16068" in line
    assert "Kafka at 127.0.0.1:19092" in line and str(tmp_path.resolve() / "logs") in line
