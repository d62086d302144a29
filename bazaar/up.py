"""`bazaar up`: the broker (or a local cluster of them), stream workers, API replicas, the notifier
and the analytics process together, in the foreground.

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
from bazaar_core.kafka.local import cluster_settings, local_kafka
from bazaar_core.kafka.topics import topic_configs, topic_specs
from bazaar_core.settings import Settings, get_settings
from bazaar_core.supervisor import Child


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--workers", type=int, default=1, help="number of stream worker processes (default 1)")
    parser.add_argument(
        "--api-replicas",
        type=int,
        default=1,
        metavar="N",
        help="number of API processes, on BAZAAR_API_PORT, +1, ... (default 1); each answers every route",
    )
    parser.add_argument(
        "--kafka-nodes",
        type=int,
        choices=range(1, 10),
        metavar="N",
        help="run a local Kafka cluster of N nodes (as `bazaar kafka --nodes N`; default BAZAAR_KAFKA_NODES=1); "
        "with 3, every topic has 3 replicas, 2 in sync",
    )


class Stack:
    def __init__(self, settings: Settings, workers: int = 1, api_replicas: int = 1) -> None:
        settings = cluster_settings(settings, settings.kafka_nodes)
        self.settings = settings
        self.kafka = local_kafka(settings)
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
        api_ports = [settings.api_port + i for i in range(api_replicas)]
        self.apis = [
            Child.bazaar(
                "api" if p == settings.api_port else f"api-{p}",
                ["api", "--port", str(p)],
                env,
                self.log_dir,
                f"http://{settings.api_host}:{p}/health",
            )
            for p in api_ports
        ]
        self.notifier = Child.bazaar(
            "notifier", ["notifier"], env, self.log_dir, f"http://{settings.notifier_host}:{settings.notifier_port}/health"
        )
        self.analytics = Child.bazaar("analytics", ["analytics"], env, self.log_dir, f"{settings.analytics_base_url}/health")
        self.access: auth_cmd.Initialized | None = None  # the signing and admin keys, once `auth init` ran
        self.own_broker = False
        self.broker_restarts = 0
        self._broker_next_start = 0.0

    @property
    def api(self) -> Child:
        """The first API replica (on ``api_port``)."""
        return self.apis[0]

    @property
    def children(self) -> list[Child]:
        return [*self.workers, *self.apis, self.notifier, self.analytics]

    def start(self) -> None:
        if self.kafka.is_running_elsewhere():
            say(f"using the Kafka broker already at {self.settings.kafka_bootstrap}")
        else:
            nodes = f"{self.settings.kafka_nodes} nodes, " if self.settings.kafka_nodes > 1 else ""
            say(f"starting Kafka at {self.settings.kafka_bootstrap} ({nodes}data in {self.kafka.kafka_dir})")
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
        say(f"Kafka broker exited with code {code}; restarted (see broker.out under {self.kafka.kafka_dir})")

    def stop(self) -> None:
        for child in [self.analytics, self.notifier, *self.apis, *self.workers]:
            child.stop()
        self.kafka.stop()
        say("stopped")


@contextmanager
def running(settings: Settings, workers: int = 1, api_replicas: int = 1) -> Iterator[Stack]:
    stack = Stack(settings, workers, api_replicas)
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
    if args.kafka_nodes:
        settings = settings.model_copy(update={"kafka_nodes": args.kafka_nodes})
    try:
        with running(settings, args.workers, args.api_replicas) as stack:
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
    apis = ", ".join(where(a) for a in stack.apis)
    s = stack.settings
    kafka = f"Kafka at {s.kafka_bootstrap}"
    if s.kafka_nodes > 1:
        kafka += f" ({s.kafka_nodes} nodes, topics with {s.replication_factor} replicas, {s.min_insync_replicas} in sync)"
    return (
        f"ready: API on {apis}, worker{'s' if len(stack.workers) > 1 else ''} on {workers}, "
        f"notifier on {where(stack.notifier)}, analytics on {where(stack.analytics)}, "
        f"{kafka}; logs in {stack.log_dir}; " + (f"admin key in {stack.access.admin_key_file}; " if stack.access else "") + "Ctrl-C to stop"
    )


def _raise_interrupt(signum, frame) -> None:
    raise KeyboardInterrupt


def say(message: str) -> None:
    print(f"bazaar up: {message}", flush=True)
