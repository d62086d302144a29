"""Minimal reproduction: librdkafka crashes (SIGSEGV) in ``AdminClient.list_consumer_group_offsets``
when the broker answers its OffsetFetch with NOT_COORDINATOR or COORDINATOR_NOT_AVAILABLE.

The answer makes librdkafka ask the client's consumer group to look for the coordinator again
(``rd_kafka_handle_OffsetFetch`` -> ``rd_kafka_cgrp_op(rk->rk_cgrp, ...)``); an admin client has no
consumer group (``rk_cgrp`` is NULL), so the main thread dereferences NULL. A real broker answers
that way while it is still creating or loading its ``__consumer_offsets`` topic, that is on its
first start, which is when ``bazaar up`` and ``bazaar demo`` seeded their groups' offsets.
See docs/librdkafka-segfault.md.

  .venv/bin/python tests/librdkafka_segfault.py                         # librdkafka's mock broker: certain, a second
  .venv/bin/python tests/librdkafka_segfault.py --broker 5              # 5 fresh local Kafka brokers, about 15 s each
  .venv/bin/python tests/librdkafka_segfault.py --broker 5 --call seed  # the same with the seeding the processes use now

Each call runs in a child process; the output says how each child ended. With the mock broker
the error is injected with librdkafka's mock API (through ctypes, from the same library
confluent-kafka loaded): ``admin`` is the crashing call, ``consumer`` is ``Consumer.committed``
(the same request through a consumer, which has a group: an exception, no crash) and ``seed`` is
``bazaar_core.kafka.faust_fence.seed_committed_offsets``.
"""

from __future__ import annotations

import argparse
import ctypes
import glob
import os
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TOPIC = "events"
PARTITIONS = 4
OFFSET_FETCH, OFFSET_COMMIT, LIST_OFFSETS = 9, 8, 2  # Kafka ApiKeys
COORDINATOR_NOT_AVAILABLE, NOT_COORDINATOR = 15, 16  # Kafka error codes that mean "look for the coordinator again"


class MockCluster:
    """librdkafka's mock Kafka cluster (one broker, in this process, on 127.0.0.1), for injecting
    broker answers. It runs on a producer handle made with librdkafka's C API directly."""

    def __init__(self) -> None:
        import confluent_kafka

        libs = Path(confluent_kafka.__file__).parent.parent / "confluent_kafka.libs"
        found = glob.glob(str(libs / "librdkafka*"))
        lib = self.lib = ctypes.CDLL(found[0] if found else "librdkafka.so.1")  # the wheel's copy, or the system's
        lib.rd_kafka_conf_new.restype = ctypes.c_void_p
        lib.rd_kafka_conf_set.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_size_t]
        lib.rd_kafka_new.restype = ctypes.c_void_p
        lib.rd_kafka_new.argtypes = [ctypes.c_int, ctypes.c_void_p, ctypes.c_char_p, ctypes.c_size_t]
        lib.rd_kafka_mock_cluster_new.restype = ctypes.c_void_p
        lib.rd_kafka_mock_cluster_new.argtypes = [ctypes.c_void_p, ctypes.c_int]
        lib.rd_kafka_mock_cluster_bootstraps.restype = ctypes.c_char_p
        lib.rd_kafka_mock_cluster_bootstraps.argtypes = [ctypes.c_void_p]
        lib.rd_kafka_mock_topic_create.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_int, ctypes.c_int]
        lib.rd_kafka_mock_push_request_errors_array.argtypes = [
            ctypes.c_void_p,
            ctypes.c_int16,
            ctypes.c_size_t,
            ctypes.POINTER(ctypes.c_int),
        ]
        errstr = ctypes.create_string_buffer(512)
        conf = lib.rd_kafka_conf_new()
        lib.rd_kafka_conf_set(conf, b"log_level", b"0", errstr, 512)  # the handle itself never connects anywhere
        self._rk = lib.rd_kafka_new(0, conf, errstr, 512)
        if not self._rk:
            raise RuntimeError(errstr.value.decode())
        self._cluster = lib.rd_kafka_mock_cluster_new(self._rk, 1)
        self.bootstrap = lib.rd_kafka_mock_cluster_bootstraps(self._cluster).decode()
        lib.rd_kafka_mock_topic_create(self._cluster, TOPIC.encode(), PARTITIONS, 1)

    def close(self) -> None:
        self.lib.rd_kafka_mock_cluster_destroy(ctypes.c_void_p(self._cluster))
        self.lib.rd_kafka_destroy(ctypes.c_void_p(self._rk))

    def answer_next(self, api_key: int, *errors: int) -> None:
        """The next ``len(errors)`` requests of ``api_key`` (any client) get these errors, in order."""
        array = (ctypes.c_int * len(errors))(*errors)
        self.lib.rd_kafka_mock_push_request_errors_array(self._cluster, api_key, len(errors), array)


# ---- the calls, each run in a child process ---------------------------------------------------------


def call_admin(bootstrap: str, group: str) -> str:
    from confluent_kafka import ConsumerGroupTopicPartitions, TopicPartition
    from confluent_kafka.admin import AdminClient

    admin = AdminClient({"bootstrap.servers": bootstrap})
    request = ConsumerGroupTopicPartitions(group, [TopicPartition(TOPIC, p) for p in range(PARTITIONS)])
    result = admin.list_consumer_group_offsets([request])[group].result(timeout=10)
    return f"offsets {[tp.offset for tp in result.topic_partitions]}"


def call_consumer(bootstrap: str, group: str) -> str:
    from confluent_kafka import Consumer, TopicPartition

    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": group, "enable.auto.commit": False})
    try:
        result = consumer.committed([TopicPartition(TOPIC, p) for p in range(PARTITIONS)], timeout=10)
        return f"offsets {[tp.offset for tp in result]}"
    finally:
        consumer.close()


def call_seed(bootstrap: str, group: str) -> str:
    from bazaar_core import logs
    from bazaar_core.kafka.faust_fence import seed_committed_offsets
    from bazaar_core.settings import Settings

    logs.setup("INFO")  # its retries, on stderr
    settings = Settings(kafka_bootstrap=bootstrap)
    return f"seeded: {seed_committed_offsets(settings, group, TOPIC, PARTITIONS, timeout_s=30, retry_s=0.1)}"


CALLS = {"admin": call_admin, "consumer": call_consumer, "seed": call_seed}


def run_child(call: str, bootstrap: str, group: str, timeout: float = 60.0) -> subprocess.CompletedProcess:
    """``call`` in a child process; its return code is negative when a signal ended it."""
    return subprocess.run(
        [sys.executable, str(Path(__file__).resolve()), "--child", call, bootstrap, group],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
    )


def ended(done: subprocess.CompletedProcess) -> str:
    if done.returncode < 0:
        return f"killed by {signal.Signals(-done.returncode).name}"
    last = (done.stdout.strip().splitlines() or done.stderr.strip().splitlines() or [""])[-1]
    return f"exit {done.returncode}: {last[:160]}"


# ---- the two reproductions -----------------------------------------------------------------------


def on_mock() -> int:
    cluster = MockCluster()
    print(f"librdkafka mock broker at {cluster.bootstrap}; topic {TOPIC!r}, {PARTITIONS} partitions")
    crashed = False
    for error, name in ((NOT_COORDINATOR, "NOT_COORDINATOR"), (COORDINATOR_NOT_AVAILABLE, "COORDINATOR_NOT_AVAILABLE")):
        for call in CALLS:
            cluster.answer_next(OFFSET_FETCH, error)
            done = run_child(call, cluster.bootstrap, f"g-{uuid.uuid4().hex[:8]}")
            crashed |= call == "admin" and done.returncode == -signal.SIGSEGV
            print(f"  OffsetFetch answered {name:<26} {call:<9} {ended(done)}")
    cluster.close()
    return 0 if crashed else 1


def on_fresh_brokers(runs: int, call: str) -> int:
    """Each run: a new broker (no offsets topic yet) and, as soon as it answers, two children that
    read a new group's offsets (``admin``: with the admin client, retried as the worker and the
    analytics process did at start-up; ``seed``: the seeding they do now)."""
    from bazaar_core.kafka.admin import ensure_topics
    from bazaar_core.kafka.local import LocalKafka
    from bazaar_core.settings import Settings
    from tests.conftest import free_ports

    crashes = 0
    for run in range(1, runs + 1):
        port, controller = free_ports(2)
        with tempfile.TemporaryDirectory(prefix="segv-") as data:
            settings = Settings(data_dir=Path(data), kafka_bootstrap=f"127.0.0.1:{port}", kafka_controller_port=controller)
            with LocalKafka(settings):
                ensure_topics(settings, {TOPIC: PARTITIONS})
                started = time.monotonic()
                children = [
                    subprocess.Popen(
                        [
                            sys.executable,
                            str(Path(__file__).resolve()),
                            "--child",
                            f"{call}-retry",
                            settings.kafka_bootstrap,
                            f"g-{uuid.uuid4().hex[:8]}",
                        ],
                        cwd=ROOT,
                        env={**os.environ, "PYTHONPATH": str(ROOT)},
                        stdin=subprocess.DEVNULL,
                        stdout=subprocess.PIPE,
                        stderr=subprocess.STDOUT,
                        text=True,
                    )
                    for _ in range(2)
                ]
                outputs = [child.communicate(timeout=120)[0] for child in children]
        codes = [child.returncode for child in children]
        crashes += sum(code == -signal.SIGSEGV for code in codes)
        said = [(out.strip().splitlines() or ["(nothing)"])[-1][:60] for out in outputs]
        print(
            f"run {run}: children ended {codes} ({time.monotonic() - started:.1f} s){'  <- SIGSEGV' if -signal.SIGSEGV in codes else ''}; "
            f"last lines {said}"
        )
    print(f"{crashes} of {2 * runs} children ({call}) killed by SIGSEGV")
    return 0 if crashes or call != "admin" else 1


def _admin_until_answered(bootstrap: str, group: str) -> str:
    """The admin call, retried as the worker's seeding retried it while the broker was starting."""
    for _ in range(40):
        try:
            return call_admin(bootstrap, group)
        except Exception as exc:  # a broker still starting: timeouts, no coordinator yet
            print(f"retrying: {exc!r}", flush=True)
            time.sleep(0.5)
    return "never answered"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--broker", type=int, metavar="RUNS", help="fresh local Kafka brokers instead of the mock one")
    parser.add_argument("--call", choices=["admin", "seed"], default="admin", help="with --broker: what the children call (default admin)")
    parser.add_argument("--child", nargs=3, metavar=("CALL", "BOOTSTRAP", "GROUP"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        call, bootstrap, group = args.child
        if call == "admin-retry":
            print(_admin_until_answered(bootstrap, group), flush=True)
        else:
            print(CALLS[call.removesuffix("-retry")](bootstrap, group), flush=True)  # the seeding retries by itself
        return 0
    return on_fresh_brokers(args.broker, args.call) if args.broker else on_mock()


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    sys.exit(main())
