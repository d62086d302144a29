"""Child processes of `bazaar up`: start, watch, restart on crash, stop cleanly."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path


@dataclass
class Child:
    """One ``bazaar <command>`` subprocess with its output in a log file."""

    name: str
    argv: list[str]
    env: dict[str, str]
    log_path: Path
    health_url: str | None = None
    proc: subprocess.Popen | None = None
    restarts: int = 0
    _next_start: float = field(default=0.0, repr=False)

    @classmethod
    def bazaar(cls, name: str, command: list[str], env: dict[str, str], log_dir: Path, health_url: str | None = None) -> Child:
        return cls(name, [sys.executable, "-m", "bazaar.cli", *command], env, log_dir / f"{name}.log", health_url)

    def start(self) -> None:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        out = open(self.log_path, "ab")
        self.proc = subprocess.Popen(
            self.argv, env=self.env, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
        out.close()

    @property
    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def healthy(self) -> bool:
        if not self.alive:
            return False
        if self.health_url is None:
            return True
        try:
            with urllib.request.urlopen(self.health_url, timeout=1) as resp:
                return resp.status == 200
        except OSError:
            return False

    def wait_healthy(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while not self.healthy():
            if not self.alive:
                raise RuntimeError(
                    f"{self.name} exited with code {self.proc.returncode if self.proc else '?'}; see {self.log_path}\n{tail(self.log_path)}"
                )
            if time.monotonic() > deadline:
                raise RuntimeError(f"{self.name} not healthy after {timeout:.0f} s; see {self.log_path}\n{tail(self.log_path)}")
            time.sleep(0.2)

    def restart_if_dead(self) -> bool:
        """Restart a crashed child with exponential backoff; True when it was restarted now."""
        if self.alive or self.proc is None or time.monotonic() < self._next_start:
            return False
        self.restarts += 1
        self._next_start = time.monotonic() + min(30.0, 2.0 ** min(self.restarts, 5))
        self.start()
        return True

    def stop(self, timeout: float = 20.0) -> None:
        proc = self.proc
        if proc is None or not self.alive:
            return
        self.signal(signal.SIGTERM)
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.signal(signal.SIGKILL)
            proc.wait()

    def kill(self) -> None:
        """SIGKILL, as a crash would: no shutdown code runs."""
        proc = self.proc
        if proc is not None and self.alive:
            self.signal(signal.SIGKILL)
            proc.wait()

    def signal(self, sig: int) -> None:
        if self.proc is None:  # never started
            return
        try:
            os.killpg(self.proc.pid, sig)
        except ProcessLookupError:
            pass


def tail(path: Path, lines: int = 20) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except FileNotFoundError:
        return ""
