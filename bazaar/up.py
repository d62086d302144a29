"""`bazaar up`: the broker, stream workers, the API, the notifier and the analytics process
together, in the foreground.

Ctrl-C or SIGTERM stops every child cleanly (analytics, notifier, API, workers, then the broker).
A child that crashes is restarted with backoff, the broker too when `up` started it.
"""

from __future__ import annotations

import argparse
import os
import signal
import time
from collections.abc import Iterator
from contextlib import contextmanager

from bazaar import auth_cmd
from bazaar_core.kafka.admin import ensure_topics
from bazaar_core.kafka.local import LocalKafka
from bazaar_core.kafka.topics import topic_configs, topic_specs
from bazaar_core.settings import Settings, get_settings
from bazaar_core.supervisor import Child


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--workers", type=int, default=1, help="number of stream worker processes (default 1)")


class Stack:
    def __init__(self, settings: Settings, workers: int = 1) -> None:
        self.settings = settings
        self.kafka = LocalKafka(settings)
        self.log_dir = settings.data_dir.resolve() / "logs"
        ports = [settings.worker_port + i for i in range(workers)]
        settings = settings.model_copy(
            update={
                "data_dir": settings.data_dir.resolve(),
                "worker_urls": [f"http://{settings.worker_host}:{p}" for p in ports],
            }
        )
        env = {**os.environ, **settings.to_env()}
        self.workers = [
            Child.bazaar(f"worker-{p}", ["worker", "--port", str(p)], env, self.log_dir, f"http://{settings.worker_host}:{p}/health")
            for p in ports
        ]
        self.api = Child.bazaar("api", ["api"], env, self.log_dir, f"http://{settings.api_host}:{settings.api_port}/health")
        self.notifier = Child.bazaar(
            "notifier", ["notifier"], env, self.log_dir, f"http://{settings.notifier_host}:{settings.notifier_port}/health"
        )
        self.analytics = Child.bazaar("analytics", ["analytics"], env, self.log_dir, f"{settings.analytics_base_url}/health")
        self.access: auth_cmd.Initialized | None = None  # the signing and admin keys, once `auth init` ran
        self.own_broker = False
        self.broker_restarts = 0
        self._broker_next_start = 0.0

    @property
    def children(self) -> list[Child]:
        return [*self.workers, self.api, self.notifier, self.analytics]

    def start(self) -> None:
        if self.kafka.is_running_elsewhere():
            say(f"using the Kafka broker already at {self.settings.kafka_bootstrap}")
        else:
            say(f"starting Kafka at {self.settings.kafka_bootstrap} (data in {self.kafka.kafka_dir})")
            self.kafka.ensure_jars()
            self.kafka.format()
            self.kafka.start()
            self.kafka.wait_ready()
            self.own_broker = True
        ensure_topics(self.settings, topic_specs(self.settings), topic_configs(self.settings))
        # the signing key and an admin key, each if missing: the API starts only with a signing key
        self.access = auth_cmd.init(self.settings.model_copy(update={"data_dir": self.settings.data_dir.resolve()}))
        say(
            f"admin key {'made' if self.access.made_admin else 'kept'} in {self.access.admin_key_file} "
            "(`bazaar auth token` prints an access token for it; docs/access.md)"
        )
        for child in self.children:
            child.start()
        for child in self.children:
            child.wait_healthy(timeout=120)
            say(f"{child.name} healthy ({child.health_url})")

    def watch(self) -> None:
        self._watch_broker()
        for child in self.children:
            if child.restart_if_dead():
                say(f"{child.name} exited with code {child.proc.returncode if child.proc else '?'}; restarted (see {child.log_path})")

    def _watch_broker(self) -> None:
        """A broker that died (a SIGKILL, an OOM kill) is started again with backoff, as any child:
        the processes reconnect by themselves, and POS terminals retry the 503s meanwhile."""
        if not self.own_broker or self.kafka.exited is None or time.monotonic() < self._broker_next_start:
            return
        code = self.kafka.exited
        self.broker_restarts += 1
        self._broker_next_start = time.monotonic() + min(30.0, 2.0 ** min(self.broker_restarts, 5))
        self.kafka.restart()
        say(f"Kafka broker exited with code {code}; restarted (see {self.kafka.kafka_dir / 'broker.out'})")

    def stop(self) -> None:
        for child in [self.analytics, self.notifier, self.api, *self.workers]:
            child.stop()
        self.kafka.stop()
        say("stopped")


@contextmanager
def running(settings: Settings, workers: int = 1) -> Iterator[Stack]:
    stack = Stack(settings, workers)
    previous = signal.signal(signal.SIGTERM, _raise_interrupt)
    try:
        stack.start()
        yield stack
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)  # a second SIGTERM must not cut the clean stop short
        stack.stop()
        signal.signal(signal.SIGTERM, previous)


def run(args: argparse.Namespace) -> int:
    settings = get_settings()
    try:
        with running(settings, args.workers) as stack:
            say(ready_line(stack))
            while True:
                stack.watch()
                time.sleep(1)
    except KeyboardInterrupt:
        return 0


def ready_line(stack: Stack) -> str:
    """Where each child answers, once all are healthy."""

    def where(child: Child) -> str:
        return (child.health_url or "").removesuffix("/health")

    workers = ", ".join(where(w) for w in stack.workers)
    return (
        f"ready: API on {where(stack.api)}, worker{'s' if len(stack.workers) > 1 else ''} on {workers}, "
        f"notifier on {where(stack.notifier)}, analytics on {where(stack.analytics)}, "
        f"Kafka at {stack.settings.kafka_bootstrap}; logs in {stack.log_dir}; "
        + (f"admin key in {stack.access.admin_key_file}; " if stack.access else "")
        + "Ctrl-C to stop"
    )


def _raise_interrupt(signum, frame) -> None:
    raise KeyboardInterrupt


def say(message: str) -> None:
    print(f"bazaar up: {message}", flush=True)
