"""A local Apache Kafka broker (KRaft), or a cluster of them, fetched with Maven and run as subprocesses.

``bazaar kafka`` fetches the jars once into ``kafka_cache_dir/<version>/libs``, formats storage
under ``data_dir/kafka`` and runs the broker in the foreground until Ctrl-C or SIGTERM.
``bazaar kafka --nodes 3`` runs a ``LocalCluster`` instead: three nodes, each a controller (three
voters) and a broker, on ports and data directories of their own (``cluster_nodes``), from the same
jars; ``cluster_settings`` says how every process reaches it and replicates its topics there.
"""

from __future__ import annotations

import argparse
import base64
import fcntl
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from confluent_kafka import KafkaException
from confluent_kafka.admin import AdminClient

from bazaar_core.kafka.config import admin_config
from bazaar_core.settings import Settings, get_settings

JAVA_MISSING = "bazaar kafka: Java 17+ is required (java not found on PATH); install openjdk-17-jre-headless"
# The embedded broker is for one machine: plaintext on 127.0.0.1 (a cluster secures its own, docs/deploy.md).
PLAINTEXT_ONLY = (
    "bazaar kafka: the embedded broker is plaintext on 127.0.0.1, yet BAZAAR_KAFKA_SECURITY_PROTOCOL={protocol}; "
    "point BAZAAR_KAFKA_BOOTSTRAP at your secured cluster, or unset the security settings"
)
MVN_MISSING = "bazaar kafka: Maven is required to fetch Kafka (mvn not found on PATH); install maven"

POM = """<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>bazaar</groupId>
  <artifactId>kafka-runtime</artifactId>
  <version>{version}</version>
  <packaging>pom</packaging>
  <dependencies>
    <dependency><groupId>org.apache.kafka</groupId><artifactId>kafka_2.13</artifactId><version>{version}</version></dependency>
    <dependency><groupId>org.slf4j</groupId><artifactId>slf4j-reload4j</artifactId><version>1.7.36</version></dependency>
  </dependencies>
</project>
"""

LOG4J = """log4j.rootLogger=WARN, file
log4j.logger.kafka.server.KafkaRaftServer=INFO
log4j.appender.file=org.apache.log4j.RollingFileAppender
log4j.appender.file.File={log_file}
log4j.appender.file.MaxFileSize=10MB
log4j.appender.file.MaxBackupIndex=2
log4j.appender.file.layout=org.apache.log4j.PatternLayout
log4j.appender.file.layout.ConversionPattern=[%d] %p %m (%c)%n
"""


class KafkaSetupError(RuntimeError):
    """The local broker cannot be fetched, formatted or started."""


@dataclass(frozen=True)
class Node:
    """One node of a local cluster: its KRaft id, broker and controller ports, and its directory."""

    node_id: int
    port: int
    controller_port: int
    kafka_dir: Path

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"


def cluster_nodes(settings: Settings, nodes: int | None = None) -> list[Node]:
    """The nodes of the local cluster of ``nodes`` (default ``settings.kafka_nodes``). One node is the
    embedded broker: the bootstrap and controller ports, files in ``kafka_dir``. Node i of several
    (0-based) listens on the bootstrap port + 2i (or the i-th address when the bootstrap lists one
    per node) and its controller on the controller port + 2i, with its files in ``kafka_dir/node-<i+1>``."""
    count = nodes or settings.kafka_nodes
    addresses = settings.kafka_bootstrap.split(",")
    first = int(addresses[0].rpartition(":")[2])
    cport = settings.kafka_controller_port
    if count == 1:
        return [Node(1, first, cport, settings.kafka_dir.resolve())]
    ports = [int(a.rpartition(":")[2]) for a in addresses] if len(addresses) == count else [first + 2 * i for i in range(count)]
    return [Node(i + 1, ports[i], cport + 2 * i, settings.kafka_dir.resolve() / f"node-{i + 1}") for i in range(count)]


def cluster_settings(settings: Settings, nodes: int) -> Settings:
    """The settings every process takes on a local cluster of ``nodes``: its bootstrap lists each
    node, and topics left at one replica get ``min(nodes, 3)`` with one fewer in sync (3 and 2)."""
    if nodes == 1:
        return settings.model_copy(update={"kafka_nodes": 1})
    specs = cluster_nodes(settings, nodes)
    update: dict[str, object] = {"kafka_nodes": nodes, "kafka_bootstrap": ",".join(n.address for n in specs)}
    if settings.replication_factor == 1:
        replicas = min(nodes, 3)
        update |= {"replication_factor": replicas, "min_insync_replicas": max(1, replicas - 1)}
    return settings.model_copy(update=update)


class LocalKafka:
    """One broker+controller node bound to 127.0.0.1, with its files under ``settings.kafka_dir``
    (or, as a node of a ``LocalCluster``, under the node's own directory)."""

    def __init__(self, settings: Settings, node: Node | None = None, voters: list[Node] | None = None) -> None:
        self.node = node or cluster_nodes(settings, 1)[0]
        self.voters = voters or [self.node]
        if voters:  # a node of a cluster: answers on its own address, its cluster id shared
            settings = settings.model_copy(update={"kafka_bootstrap": self.node.address})
        self.settings = settings
        self.bootstrap = settings.kafka_bootstrap
        self.port = self.node.port
        self.kafka_dir = self.node.kafka_dir
        self.cluster_id_file = (settings.kafka_dir.resolve() if voters else self.kafka_dir) / "cluster.id"
        self.version_dir = settings.kafka_cache_dir.expanduser().resolve() / settings.kafka_version
        self.libs_dir = self.version_dir / "libs"
        self.server_properties = self.kafka_dir / "server.properties"
        self.log4j_properties = self.kafka_dir / "log4j.properties"
        self.pid_file = self.kafka_dir / "broker.pid"
        self._proc: subprocess.Popen[bytes] | None = None

    # -- jars -------------------------------------------------------------

    def ensure_jars(self) -> Path:
        """Fetch the Kafka jars with Maven unless an earlier fetch completed; return the libs dir."""
        _require("java", JAVA_MISSING)
        if self._jars_stamp.exists():
            return self.libs_dir
        mvn = _require("mvn", MVN_MISSING)
        self.version_dir.mkdir(parents=True, exist_ok=True)
        with _file_lock(self.version_dir / ".fetch.lock"):
            if not self._jars_stamp.exists():
                self._fetch(mvn)
        return self.libs_dir

    @property
    def _jars_stamp(self) -> Path:
        return self.version_dir / "libs.complete"

    def _fetch(self, mvn: str) -> None:
        version = self.settings.kafka_version
        print(f"bazaar kafka: fetching Apache Kafka {version} with Maven into {self.libs_dir} (once)", flush=True)
        started = time.monotonic()
        shutil.rmtree(self.libs_dir, ignore_errors=True)  # leftovers of an interrupted fetch
        pom = self.version_dir / "pom.xml"
        pom.write_text(POM.format(version=version))
        command = [
            mvn,
            "-q",
            "-B",
            "-f",
            str(pom),
            "dependency:copy-dependencies",
            f"-DoutputDirectory={self.libs_dir}",
            "-DincludeScope=runtime",
        ]
        result = subprocess.run(command, capture_output=True, text=True, stdin=subprocess.DEVNULL)
        if result.returncode != 0:
            sys.stderr.write(result.stdout + result.stderr)
            raise KafkaSetupError(f"bazaar kafka: Maven could not fetch Kafka {version} (exit {result.returncode}); see its output above")
        self._jars_stamp.write_text(f"{version}\n")
        jars = len(list(self.libs_dir.glob("*.jar")))
        print(f"bazaar kafka: fetched {jars} jars in {time.monotonic() - started:.0f} s", flush=True)

    # -- storage ----------------------------------------------------------

    def render_server_properties(self) -> str:
        cport = self.node.controller_port
        # the broker's own topics (group offsets, transactions), and any topic not made by
        # ensure_topics, replicated as the cluster allows: 3 (2 in sync) on three nodes, 1 on one
        replicas = min(len(self.voters), 3)
        in_sync = max(1, replicas - 1)
        props = {
            "process.roles": "broker,controller",
            "node.id": str(self.node.node_id),
            "controller.quorum.voters": ",".join(f"{n.node_id}@127.0.0.1:{n.controller_port}" for n in self.voters),
            "listeners": f"PLAINTEXT://127.0.0.1:{self.port},CONTROLLER://127.0.0.1:{cport}",
            "advertised.listeners": f"PLAINTEXT://127.0.0.1:{self.port}",
            "controller.listener.names": "CONTROLLER",
            "listener.security.protocol.map": "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
            "log.dirs": str(self.kafka_dir / "data"),
            "offsets.topic.replication.factor": str(replicas),
            "transaction.state.log.replication.factor": str(replicas),
            "transaction.state.log.min.isr": str(in_sync),
            "default.replication.factor": str(replicas),
            "min.insync.replicas": str(in_sync),
            "unclean.leader.election.enable": "false",
            "group.initial.rebalance.delay.ms": "0",
        }
        if len(self.voters) > 1:
            # a killed node is fenced, and its partitions led elsewhere, after 6 s without a heartbeat
            props |= {"broker.session.timeout.ms": "6000", "broker.heartbeat.interval.ms": "1000"}
        return "".join(f"{key}={value}\n" for key, value in props.items())

    def format(self) -> None:
        """Write the broker's config files and format its storage if that was never done."""
        self.kafka_dir.mkdir(parents=True, exist_ok=True)
        self.server_properties.write_text(self.render_server_properties())
        self.log4j_properties.write_text(LOG4J.format(log_file=self.kafka_dir / "broker.log"))
        if (self.kafka_dir / "data" / "meta.properties").exists():
            return
        command = self._java(
            "kafka.tools.StorageTool", "format", "-t", self._cluster_id(), "-c", str(self.server_properties), "--ignore-formatted"
        )
        result = subprocess.run(command, capture_output=True, text=True, stdin=subprocess.DEVNULL)
        if result.returncode != 0:
            raise KafkaSetupError(f"bazaar kafka: formatting storage failed:\n{result.stdout}{result.stderr}")

    def _cluster_id(self) -> str:
        path = self.cluster_id_file
        path.parent.mkdir(parents=True, exist_ok=True)
        with _file_lock(path.parent / ".cluster-id.lock"):
            if not path.exists():
                path.write_text(_new_cluster_id() + "\n")
        return path.read_text().strip()

    # -- process ----------------------------------------------------------

    def start(self) -> None:
        """Start the broker in its own process group; output goes to ``broker.out``."""
        if self._proc is not None:
            raise RuntimeError("broker already started")
        if self.settings.kafka_security_protocol != "PLAINTEXT":
            raise KafkaSetupError(PLAINTEXT_ONLY.format(protocol=self.settings.kafka_security_protocol))
        self.stop_stale()
        with open(self.kafka_dir / "broker.out", "wb") as out:
            self._proc = subprocess.Popen(
                self._java(
                    "kafka.Kafka", str(self.server_properties), heap=self.settings.kafka_heap, jvm_opts=self.settings.kafka_jvm_opts.split()
                ),
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self.pid_file.write_text(f"{self._proc.pid} {os.getpid()}\n")  # broker, and the process that runs it

    @property
    def pid(self) -> int | None:
        """The broker's process id while this object runs it."""
        return self._proc.pid if self._proc is not None else None

    def wait_ready(self, timeout: float = 60.0) -> None:
        """Block until the broker answers metadata requests; raise with the log tail if it dies or stalls."""
        if self._proc is None:
            raise RuntimeError("start() the broker first")
        deadline = time.monotonic() + timeout
        while not _answers(self.settings):
            code = self._proc.poll()
            if code is not None:
                raise KafkaSetupError(f"bazaar kafka: broker exited with code {code} while starting\n{self.log_tail()}")
            if time.monotonic() > deadline:
                raise KafkaSetupError(f"bazaar kafka: broker not ready after {timeout:.0f} s\n{self.log_tail()}")
            time.sleep(0.3)

    @property
    def exited(self) -> int | None:
        """The exit code of a broker this object started that has since died (None while it runs)."""
        return None if self._proc is None else self._proc.poll()

    def restart(self) -> None:
        """Start a broker that died again, on the same storage (it recovers its logs as after a crash)."""
        if self._proc is not None and self._proc.poll() is None:
            return
        self._proc = None
        self.pid_file.unlink(missing_ok=True)
        self.start()

    def wait(self) -> int:
        """Block until the broker process exits; return its exit code."""
        if self._proc is None:
            raise RuntimeError("start() the broker first")
        return self._proc.wait()

    def stop(self, timeout: float = 20.0) -> None:
        """SIGTERM the broker's process group, then SIGKILL it if it outlives ``timeout``."""
        proc, self._proc = self._proc, None
        if proc is None:
            return
        _terminate_group(proc.pid, lambda: proc.poll() is None, timeout)
        proc.wait()
        self.pid_file.unlink(missing_ok=True)

    def is_running_elsewhere(self) -> bool:
        """True when something other than this object's broker answers at the bootstrap address."""
        return self._proc is None and _answers(self.settings)

    def log_tail(self, lines: int = 25) -> str:
        parts = [_tail(self.kafka_dir / name, lines) for name in ("broker.log", "broker.out")]
        return "\n".join(part for part in parts if part) or "(the broker wrote no log)"

    def stop_stale(self) -> None:
        """Stop a broker on this data dir whose runner died (a crashed run), as recorded in the pid file.

        A broker whose runner is still alive is left alone.
        """
        try:
            broker, owner = (int(word) for word in self.pid_file.read_text().split())
        except (FileNotFoundError, ValueError):
            return
        if not _is_broker_process(broker, self.server_properties):
            self.pid_file.unlink(missing_ok=True)
        elif not _pid_alive(owner):
            print(f"bazaar kafka: stopping stale broker (pid {broker}) left by an earlier run", file=sys.stderr)
            _terminate_group(broker, lambda: _is_broker_process(broker, self.server_properties), timeout=20.0)
            self.pid_file.unlink(missing_ok=True)

    def _java(self, main_class: str, *args: str, heap: str | None = None, jvm_opts: Sequence[str] = ()) -> list[str]:
        memory = [f"-Xmx{heap}"] if heap else []
        return [
            _require("java", JAVA_MISSING),
            *memory,
            *jvm_opts,
            "-Djava.awt.headless=true",
            f"-Dlog4j.configuration=file:{self.log4j_properties}",
            "-cp",
            f"{self.libs_dir}/*",
            main_class,
            *args,
        ]

    def __enter__(self) -> LocalKafka:
        self.ensure_jars()
        self.format()
        self.start()
        try:
            self.wait_ready()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


class LocalCluster:
    """Several ``LocalKafka`` nodes forming one KRaft cluster on 127.0.0.1 (``cluster_nodes``), run
    and watched as one broker is by ``bazaar up``: a node that dies is started again on its storage."""

    def __init__(self, settings: Settings, nodes: int | None = None) -> None:
        self.settings = cluster_settings(settings, nodes or settings.kafka_nodes)
        specs = cluster_nodes(self.settings)
        self.nodes = [LocalKafka(self.settings, spec, specs) for spec in specs]
        self.bootstrap = self.settings.kafka_bootstrap
        self.kafka_dir = self.settings.kafka_dir.resolve()

    def ensure_jars(self) -> Path:
        return self.nodes[0].ensure_jars()

    def format(self) -> None:
        for node in self.nodes:
            node.format()

    def start(self) -> None:
        for node in self.nodes:
            node.start()

    @property
    def pids(self) -> list[int | None]:
        return [node.pid for node in self.nodes]

    def wait_ready(self, timeout: float = 90.0) -> None:
        """Block until every node is a broker of the cluster (each alone cannot be: it needs a quorum)."""
        deadline = time.monotonic() + timeout
        while _broker_count(self.settings) < len(self.nodes):
            for node in self.nodes:
                code = node.exited
                if code is not None:
                    name = f"node {node.node.node_id}"
                    raise KafkaSetupError(f"bazaar kafka: {name} exited with code {code} while starting\n{node.log_tail()}")
            if time.monotonic() > deadline:
                raise KafkaSetupError(f"bazaar kafka: the cluster was not ready after {timeout:.0f} s\n{self.log_tail()}")
            time.sleep(0.3)

    @property
    def exited(self) -> int | None:
        """The exit code of a node that died (None while all run)."""
        return next((code for code in (node.exited for node in self.nodes) if code is not None), None)

    def restart(self) -> None:
        """Start each node that died again, on its own storage (the others keep the quorum meanwhile)."""
        for node in self.nodes:
            if node.exited is not None:
                node.restart()

    def wait(self) -> int:
        """Block until a node exits; return its exit code."""
        while True:
            code = self.exited
            if code is not None:
                return code
            time.sleep(0.5)

    def stop(self, timeout: float = 20.0) -> None:
        """Stop every node at once: one by one, the last would wait for a quorum that has gone."""
        with ThreadPoolExecutor(len(self.nodes)) as pool:
            list(pool.map(lambda node: node.stop(timeout), self.nodes))

    def is_running_elsewhere(self) -> bool:
        return all(node.pid is None for node in self.nodes) and _answers(self.settings)

    def log_tail(self, lines: int = 10) -> str:
        return "\n".join(f"-- node {node.node.node_id} --\n{node.log_tail(lines)}" for node in self.nodes)

    def __enter__(self) -> LocalCluster:
        self.ensure_jars()
        self.format()
        self.start()
        try:
            self.wait_ready()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


def local_kafka(settings: Settings, nodes: int | None = None) -> LocalKafka | LocalCluster:
    """The embedded broker, or a local cluster of ``nodes`` (default ``settings.kafka_nodes``)."""
    count = nodes or settings.kafka_nodes
    return LocalKafka(settings) if count == 1 else LocalCluster(settings, count)


# -- subcommand -----------------------------------------------------------


def run(args: argparse.Namespace) -> int:
    """`bazaar kafka` (bazaar/kafka_cmd.py): fetch the jars, then run the broker (or ``--nodes``) until Ctrl-C."""
    kafka = local_kafka(get_settings(), getattr(args, "nodes", None))
    try:
        kafka.ensure_jars()
        if args.fetch_only:
            return 0
        for node in kafka.nodes if isinstance(kafka, LocalCluster) else [kafka]:
            node.stop_stale()
        if kafka.is_running_elsewhere():
            print(f"kafka already answers at {kafka.bootstrap}; not starting another")
            return 0
        return _serve(kafka)
    except KafkaSetupError as exc:
        print(exc, file=sys.stderr)
        return 1


def _serve(kafka: LocalKafka | LocalCluster) -> int:
    signal.signal(signal.SIGTERM, _interrupt)
    if signal.getsignal(signal.SIGINT) is not signal.SIG_IGN:  # background jobs keep ignoring Ctrl-C
        signal.signal(signal.SIGINT, _interrupt)
    try:
        with kafka:
            print(f"kafka ready at {kafka.bootstrap} (data in {kafka.kafka_dir})", flush=True)
            if isinstance(kafka, LocalCluster):
                s = kafka.settings
                print(
                    f"{len(kafka.nodes)} nodes; for every process: BAZAAR_KAFKA_BOOTSTRAP={s.kafka_bootstrap} "
                    f"BAZAAR_REPLICATION_FACTOR={s.replication_factor} BAZAAR_MIN_INSYNC_REPLICAS={s.min_insync_replicas}",
                    flush=True,
                )
            code = kafka.wait()
    except KeyboardInterrupt:
        print("kafka stopped", flush=True)
        return 0
    print(f"bazaar kafka: broker exited with code {code}\n{kafka.log_tail()}", file=sys.stderr)
    return 1


def _interrupt(signum: int, frame: object) -> None:
    """Turn the first SIGTERM/SIGINT into KeyboardInterrupt; ignore repeats while the broker stops."""
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    raise KeyboardInterrupt


# -- helpers --------------------------------------------------------------


def _require(tool: str, message: str) -> str:
    path = shutil.which(tool)
    if path is None:
        raise KafkaSetupError(message)
    return path


@contextmanager
def _file_lock(path: Path) -> Iterator[None]:
    with open(path, "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        yield


def _new_cluster_id() -> str:
    """A random Kafka cluster id: 16 bytes, URL-safe base64 without padding, not starting with '-'."""
    while True:
        cluster_id = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
        if not cluster_id.startswith("-"):
            return cluster_id


def _answers(settings: Settings, timeout: float = 2.0) -> bool:
    """True when a Kafka broker at the bootstrap address returns cluster metadata listing at least
    one broker (to this process's credentials: ``bazaar up`` uses a secured cluster that answers)."""
    host, _, port = settings.kafka_bootstrap.split(",")[0].rpartition(":")
    try:
        socket.create_connection((host, int(port)), timeout=timeout).close()
    except OSError:
        return False
    admin = AdminClient(admin_config(settings, {"log_level": 0}))
    try:
        return bool(admin.list_topics(timeout=timeout).brokers)
    except KafkaException:
        return False


def _broker_count(settings: Settings, timeout: float = 2.0) -> int:
    """How many brokers the cluster at the bootstrap addresses lists (0 when none answers)."""
    try:
        admin = AdminClient(admin_config(settings, {"log_level": 0}))
        return len(admin.list_topics(timeout=timeout).brokers)
    except KafkaException:
        return 0


def _terminate_group(pgid: int, alive: Callable[[], bool], timeout: float) -> None:
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(pgid, sig)
        except ProcessLookupError:
            return
        deadline = time.monotonic() + timeout
        while alive() and time.monotonic() < deadline:
            time.sleep(0.1)
        if not alive():
            return


def _pid_alive(pid: int) -> bool:
    """True for a running process; a zombie (killed, not yet reaped) counts as gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rpartition(")")[2].split()[0] != "Z"


def _is_broker_process(pid: int, server_properties: Path) -> bool:
    try:
        argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return False
    return b"kafka.Kafka" in argv and str(server_properties).encode() in argv


def _tail(path: Path, lines: int) -> str:
    try:
        text = path.read_text(errors="replace")
    except FileNotFoundError:
        return ""
    return "\n".join(text.splitlines()[-lines:])
