"""`bazaar chaos`: faults on a three-node Kafka cluster of its own under a seeded load, each followed
by an exactness check, with the figures written to a JSON results file. Run by hand with a longer
load, and by tests/faults/ (the cluster test, tests/integration/test_cluster.py, uses the stack).

``ClusterStack`` is the cluster, held here (to kill, pause and restart its nodes), and `bazaar up
--kafka-nodes 3` on it for the processes. Exactness is checked as in the pipeline tests: every
(store, sku) stock the API answers, read after a token covering everything acknowledged, against
the generator's own plain Python totals; then every report checked (``chaos_checks``) against the
plain Python model of the same events, once the analytics process holds them all; then every alert
the API lists against the deliveries a webhook receiver of the suite's own counted by alert id.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from confluent_kafka.admin import AdminClient

from bazaar.chaos_checks import WebhookReceiver, model_of, register_webhook, settle_webhooks, wait_analytics, wrong_reports
from bazaar.load_client import RetryingClient
from bazaar_core.client_auth import KeyAuth
from bazaar_core.kafka.config import admin_config
from bazaar_core.kafka.local import LocalCluster, LocalKafka, cluster_settings
from bazaar_core.kafka.topics import topic_specs
from bazaar_core.loadgen.generator import GenConfig, Generator, wire_body
from bazaar_core.settings import Settings
from domain.quantities import milli_str


def free_block(count: int, stride: int = 1, avoid: frozenset[int] | set[int] = frozenset()) -> int:
    """A port ``p`` such that ``p + stride * i`` is free on 127.0.0.1 for each i < count."""
    rng = random.Random()
    for _ in range(200):
        base = rng.randrange(20_000, 60_000)
        ports = [base + stride * i for i in range(count)]
        if avoid & set(ports):
            continue
        try:
            for port in ports:
                with socket.socket() as sock:
                    sock.bind(("127.0.0.1", port))
        except OSError:
            continue
        return base
    raise RuntimeError("no block of free ports")


class ClusterStack:
    """The cluster (started by ``start``) and `bazaar up` on it with ``workers`` and ``api_replicas``."""

    def __init__(self, base: Path, *, workers: int = 2, api_replicas: int = 2, prefix: str = "c") -> None:
        kafka = free_block(3, 2)
        controller = free_block(3, 2, avoid={kafka, kafka + 2, kafka + 4})
        api = free_block(api_replicas)
        worker = free_block(workers)
        analytics = free_block(1)
        notifier = free_block(1, avoid={analytics})
        settings = Settings(
            data_dir=base / "data",
            kafka_bootstrap=f"127.0.0.1:{kafka}",
            kafka_controller_port=controller,
            topic_prefix=prefix,
            api_port=api,
            worker_port=worker,
            analytics_port=analytics,
            notifier_port=notifier,
            analytics_url=f"http://127.0.0.1:{analytics}",
            webhook_allow_http=True,  # the suite's webhook receiver listens on http://127.0.0.1
            webhook_allow_private=True,
        )
        self.settings = cluster_settings(settings, 3)
        self.workers, self.api_replicas = workers, api_replicas
        self.cluster = LocalCluster(self.settings)
        self.up: subprocess.Popen[bytes] | None = None
        self.out = base / "up.out"
        self.auth: KeyAuth | None = None
        self.http: httpx.Client | None = None
        self.timings: dict[str, float] = {}

    @property
    def api_urls(self) -> list[str]:
        return [f"http://127.0.0.1:{self.settings.api_port + i}" for i in range(self.api_replicas)]

    @property
    def worker_ports(self) -> list[int]:
        return [self.settings.worker_port + i for i in range(self.workers)]

    @property
    def analytics_url(self) -> str:
        return f"http://127.0.0.1:{self.settings.analytics_port}"

    @property
    def notifier_url(self) -> str:
        return f"http://127.0.0.1:{self.settings.notifier_port}"

    def start(self) -> ClusterStack:
        started = time.monotonic()
        self.cluster.__enter__()
        self.timings["cluster_ready_s"] = round(time.monotonic() - started, 1)
        started = time.monotonic()
        command = ["up", "--kafka-nodes", "3", "--workers", str(self.workers), "--api-replicas", str(self.api_replicas)]
        env = {**os.environ, **self.settings.to_env()}
        with open(self.out, "wb") as out:
            self.up = subprocess.Popen(
                [sys.executable, "-m", "bazaar.cli", *command], env=env, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT
            )
        deadline = time.monotonic() + 150
        while "bazaar up: ready:" not in self.output():
            if self.up.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"bazaar up did not get ready:\n{self.output()[-4000:]}")
            time.sleep(0.3)
        self.timings["stack_ready_s"] = round(time.monotonic() - started, 1)
        key = (self.settings.auth_path / "admin.key").read_text().strip()
        self.auth = KeyAuth(self.api_urls[0], key)
        self.http = httpx.Client(timeout=60, auth=self.auth)
        return self

    def output(self) -> str:
        return self.out.read_text(errors="replace") if self.out.exists() else ""

    # ---- the brokers -------------------------------------------------------------------------------

    def node(self, node_id: int) -> LocalKafka:
        return self.cluster.nodes[node_id - 1]

    def _admin(self) -> AdminClient:
        return AdminClient(admin_config(self.settings, {"log_level": 0}))

    def leaders(self, topic: str) -> dict[int, int]:
        """Partition -> the node id leading it (-1: none)."""
        partitions = self._admin().list_topics(topic, timeout=10).topics[topic].partitions
        return {p: meta.leader for p, meta in partitions.items()}

    def busiest_node(self, topic: str) -> LocalKafka:
        """The node leading the most partitions of ``topic``."""
        counts: dict[int, int] = {}
        for leader in self.leaders(topic).values():
            counts[leader] = counts.get(leader, 0) + 1
        return self.node(max(counts, key=lambda n: (counts[n], -n)))

    def wait_led_elsewhere(self, node_id: int, topic: str, timeout: float = 60.0) -> float:
        """Seconds until no partition of ``topic`` is led by ``node_id`` (or leaderless)."""
        started = time.monotonic()
        while True:
            try:
                leaders = self.leaders(topic)
                if all(leader not in (node_id, -1) for leader in leaders.values()):
                    return time.monotonic() - started
            except Exception:  # noqa: BLE001 (metadata from a cluster in the middle of a change)
                pass
            if time.monotonic() - started > timeout:
                raise TimeoutError(f"partitions of {topic} still led by node {node_id}: {leaders}")
            time.sleep(0.2)

    def wait_in_sync(self, timeout: float = 90.0) -> float:
        """Seconds until every partition of every topic has all its replicas in sync."""
        started = time.monotonic()
        names = list(topic_specs(self.settings))
        while True:
            try:
                topics = self._admin().list_topics(timeout=10).topics
                lagging = [
                    f"{n}[{p}]" for n in names for p, meta in topics[n].partitions.items() if sorted(meta.isrs) != sorted(meta.replicas)
                ]
            except Exception as exc:  # noqa: BLE001
                lagging = [repr(exc)]
            if not lagging:
                return time.monotonic() - started
            if time.monotonic() - started > timeout:
                raise TimeoutError(f"replicas not back in sync after {timeout:.0f} s: {lagging[:5]}")
            time.sleep(0.3)

    def jvm_rss_mib(self) -> dict[str, float]:
        """Resident size of each node's JVM."""
        out = {}
        for node in self.cluster.nodes:
            status = Path(f"/proc/{node.pid}/status").read_text()
            kib = next(int(line.split()[1]) for line in status.splitlines() if line.startswith("VmRSS:"))
            out[f"node-{node.node.node_id}"] = round(kib / 1024, 1)
        return out

    # ---- exactness ---------------------------------------------------------------------------------

    def store_stock(self, store: str, token: str, timeout_ms: int = 30_000) -> dict[str, str]:
        """sku -> on_hand of a store, every page, after ``token`` (from any API replica that answers)."""
        assert self.http is not None
        items: dict[str, str] = {}
        cursor = None
        for attempt in range(60):
            url = self.api_urls[attempt % len(self.api_urls)]
            params: dict[str, str | int] = {"after": token, "timeout_ms": timeout_ms, "limit": 200}
            if cursor:
                params["cursor"] = cursor
            try:
                resp = self.http.get(f"{url}/v1/stores/{store}/stock", params=params, timeout=timeout_ms / 1000 + 30)
            except httpx.HTTPError:
                time.sleep(1)
                continue
            assert resp.status_code < 400 or resp.status_code >= 500, resp.text
            if resp.status_code != 200:  # a worker moving partitions, an outage healing
                time.sleep(1)
                continue
            page = resp.json()
            items.update({item["sku"]: item["on_hand"] for item in page["items"]})
            cursor = page["next_cursor"]
            if not cursor:
                return items
        raise AssertionError(f"store {store}'s stock not answered: {resp.status_code if 'resp' in locals() else '?'}")

    def wrong_stock(self, gen: Generator, token: str) -> tuple[int, dict[str, tuple[str | None, str | None]]]:
        """(keys checked, "store|sku" -> (expected, got) for each that differs) for a generator's stores."""
        by_store: dict[str, dict[str, str]] = {}
        for key, milli in gen.expected().items():
            store, sku = key.split("|")
            by_store.setdefault(store, {})[sku] = milli_str(milli)
        wrong: dict[str, tuple[str | None, str | None]] = {}
        for store, want in by_store.items():
            got = self.store_stock(store, token)
            for sku in set(want) | set(got):
                if want.get(sku) != got.get(sku):
                    wrong[f"{store}|{sku}"] = (want.get(sku), got.get(sku))
        return sum(len(w) for w in by_store.values()), wrong

    def report(self, name: str, query: dict[str, Any]) -> dict:
        """A report's JSON from any API replica that answers (retried through restarts and 503s)."""
        assert self.http is not None
        for attempt in range(60):
            url = self.api_urls[attempt % len(self.api_urls)]
            try:
                resp = self.http.get(f"{url}/v1/reports/{name}", params=query, timeout=120)
            except httpx.HTTPError:
                time.sleep(1)
                continue
            if resp.status_code == 200:
                return resp.json()
            if resp.status_code < 500:
                raise RuntimeError(f"report {name} {query} answered {resp.status_code}: {resp.text[:300]}")
            time.sleep(1)
        raise RuntimeError(f"report {name} {query} not answered")

    def child_pid(self, *command: str) -> int:
        """The process of `up`'s child running ``bazaar <command>`` (its own process group)."""
        assert self.up is not None
        wanted = ["-m", "bazaar.cli", *command]
        for entry in Path("/proc").iterdir():
            if entry.name.isdigit():
                try:
                    argv = (entry / "cmdline").read_bytes().decode(errors="replace").split("\0")
                    parent = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
                except (OSError, IndexError, ValueError):
                    continue
                if parent == self.up.pid and argv[1:] == [*wanted, ""]:
                    return int(entry.name)
        raise LookupError(f"no child of bazaar up runs bazaar {' '.join(command)}")

    def bazaar(self, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        env = {**os.environ, **self.settings.to_env()}
        return subprocess.run([sys.executable, "-m", "bazaar.cli", *args], env=env, capture_output=True, text=True, timeout=timeout)

    def close(self) -> None:
        if self.http is not None:
            self.http.close()
        if self.up is not None and self.up.poll() is None:
            self.up.send_signal(signal.SIGTERM)
            try:
                self.up.wait(90)
            except subprocess.TimeoutExpired:
                self.up.kill()
                self.up.wait()
        self.cluster.__exit__(None, None, None)


# ---- the faults ------------------------------------------------------------------------------------

FAULTS = ("broker-kill", "broker-pause", "worker-kill-wiped", "api-kill", "analytics-kill", "notifier-kill")
PAUSE_S = 20.0  # a broker stopped this long (SIGSTOP/SIGCONT): a long GC pause


def wait_healthy(url: str, timeout: float = 180.0) -> float:
    started = time.monotonic()
    while True:
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return time.monotonic() - started
        except httpx.HTTPError:
            pass
        if time.monotonic() - started > timeout:
            raise TimeoutError(f"{url} not healthy after {timeout:.0f} s")
        time.sleep(0.3)


@dataclass
class Suite:
    """One stack for every fault in turn, and what has been posted to it so far."""

    stack: ClusterStack
    client: RetryingClient
    receiver: WebhookReceiver
    checked: list[Generator] = field(default_factory=list)  # the days of the faults before
    bodies: list[dict] = field(default_factory=list)  # every event body posted, in order (re-sends too)


def kill_child(suite: Suite, during: list[dict], health_url: str, *command: str) -> tuple[dict[str, Any], float]:
    """SIGKILL `up`'s child running ``bazaar <command>`` and post ``during`` while it is gone;
    the figures (the seconds from the kill until it answers ``health_url`` again, and whether `up`
    restarted it) and when it was killed (monotonic)."""
    pid = suite.stack.child_pid(*command)
    back: list[float] = []

    def watch() -> None:  # from the kill on, while the clients post
        try:
            back.append(wait_healthy(health_url))
        except TimeoutError:
            pass

    os.killpg(pid, signal.SIGKILL)
    killed = time.monotonic()
    watcher = threading.Thread(target=watch, name="chaos-heal-watch", daemon=True)
    watcher.start()
    suite.client.post_all(during)
    watcher.join()
    try:
        restarted = suite.stack.child_pid(*command) != pid
    except LookupError:
        restarted = False
    return {"restarted_by_up": restarted, "answers_again_s": round(back[0], 1) if back else None}, killed


def run_fault(suite: Suite, fault: str, gen: Generator) -> dict[str, object]:
    """Post ``gen``'s events in thirds: the first, then ``fault``, the second while it lasts, the
    third once it healed; then compare every stock of ``gen`` and of the earlier days, every report
    and every webhook delivery."""
    stack, client, receiver = suite.stack, suite.client, suite.receiver
    assert stack.http is not None
    fault_started = time.monotonic()
    bodies = [wire_body(b) for b in gen.events()]
    suite.bodies.extend(bodies)
    third = len(bodies) // 3
    client.post_all(bodies[:third])
    before = client.delivery.figures()
    seen_before, bad_before = receiver.snapshot(), receiver.bad_signatures
    said_before = len(stack.output())
    window: set[str] = set()  # alerts a notifier killed may post again (docs/alerts-and-webhooks.md)
    events = stack.settings.events_topic
    started = time.monotonic()
    target: str
    extra: dict[str, Any] = {}
    if fault in ("broker-kill", "broker-pause"):
        victim = stack.busiest_node(events)
        assert victim.pid is not None
        target = f"node-{victim.node.node_id}"
        os.killpg(victim.pid, signal.SIGKILL if fault == "broker-kill" else signal.SIGSTOP)
        client.post_all(bodies[third : 2 * third])
        stack.wait_led_elsewhere(victim.node.node_id, events)
        if fault == "broker-kill":
            victim.restart()
            victim.wait_ready()
        else:
            time.sleep(max(0.0, PAUSE_S - (time.monotonic() - started)))
            os.killpg(victim.pid, signal.SIGCONT)
        client.post_all(bodies[2 * third :])
        stack.wait_in_sync()
    elif fault == "worker-kill-wiped":
        port = stack.worker_ports[0]
        target = f"worker-{port}"
        assert stack.up is not None
        stack.up.send_signal(signal.SIGSTOP)  # `up` restarts it only once its disk is empty
        try:
            os.killpg(stack.child_pid("worker", "--port", str(port)), signal.SIGKILL)
            time.sleep(0.5)
            shutil.rmtree(stack.settings.data_dir / f"worker-{port}", ignore_errors=True)
        finally:
            stack.up.send_signal(signal.SIGCONT)
        client.post_all(bodies[third : 2 * third])
        wait_healthy(f"http://127.0.0.1:{port}/health")
        client.post_all(bodies[2 * third :])
    elif fault in ("api-kill", "analytics-kill", "notifier-kill"):
        command: tuple[str, ...]
        if fault == "api-kill":  # the last replica: the clients' tokens come from the first
            api_port = stack.api_urls[-1].rsplit(":", 1)[1]
            target, url, command = f"api-{api_port}", f"{stack.api_urls[-1]}/health", ("api", "--port", api_port)
        elif fault == "analytics-kill":
            target, url, command = "analytics", f"{stack.analytics_url}/health", ("analytics",)
        else:
            target, url, command = "notifier", f"{stack.notifier_url}/health", ("notifier",)
            # while deliveries go on: once the first of this day's alerts reached the receiver, which
            # answers it only a moment later
            deadline = time.monotonic() + 20
            while not receiver.delivered(set(gen.stores)) and time.monotonic() < deadline:
                time.sleep(0.1)
        figures, killed = kill_child(suite, bodies[third : 2 * third], url, *command)
        extra.update(figures)
        if fault == "notifier-kill":
            # those it had posted by then (a request on its way is read within moments): killed
            # between a receiver's answer and the ack of its delivery record, it posts them again
            window = receiver.delivered(set(gen.stores), before=killed + 0.5)
            extra["delivered_before_kill"] = len(window)
        client.post_all(bodies[2 * third :])
    else:
        raise ValueError(f"unknown fault {fault!r}; one of {', '.join(FAULTS)}")
    healed_s = extra["answers_again_s"] if "answers_again_s" in extra else round(time.monotonic() - started, 1)
    after = client.delivery.figures()

    # every stock
    low = high = total = 0
    wrong_keys: dict[str, tuple[str | None, str | None]] = {}
    for day in [*suite.checked, gen]:
        count, wrong = stack.wrong_stock(day, client.delivery.token)
        total += count
        wrong_keys.update(wrong)
        for want, got in wrong.values():
            if got is None or (want is not None and float(got) < float(want)):
                low += 1
            else:
                high += 1
    unacked = len({b["event_id"] for b in bodies} - client.delivery.acked_ids)

    # every report, once the analytics process holds every ledger row of what was posted
    model = model_of(suite.bodies)
    caught_up_s = wait_analytics(stack.http, stack.analytics_url, len(model.rows))
    reports_checked, reports_wrong = wrong_reports(stack.report, model, gen.stores)

    # every webhook, by alert id, for every store so far
    stores = [s for day in [*suite.checked, gen] for s in day.stores]
    webhooks = settle_webhooks(stack.http, stack.api_urls, receiver, stores)
    seen = receiver.snapshot()
    again = {aid: n - max(seen_before[aid], 1) for aid, n in seen.items() if n > max(seen_before[aid], 1)}
    suite.checked.append(gen)
    return {
        "fault": fault,
        "target": target,
        "events_posted": len(bodies),
        "events_acked": after["events_acked"] - before["events_acked"] + third,
        "events_unacked": unacked,
        "stocks_checked": total,
        "stocks_below_expected": low,
        "stocks_above_expected": high,
        "wrong_examples": dict(list(wrong_keys.items())[:5]),
        "heal_s": healed_s,
        **extra,
        "http_503": after["http_503"] - before["http_503"],
        "other_failures": after["other_failures"] - before["other_failures"],
        "retries": after["retries"] - before["retries"],
        "longest_batch_s": after["longest_batch_s"],
        "analytics_caught_up_s": None if caught_up_s is None else round(caught_up_s, 1),
        "reports_checked": reports_checked,
        "reports_wrong": len(reports_wrong),
        "report_differences": reports_wrong[:3],
        **webhooks,
        "webhook_duplicates": sum(again.values()),
        # the notifier's one window: only alerts posted before it was killed, each once more
        "webhook_duplicates_allowed": len(window),
        "webhook_duplicates_outside_window": sum(n for aid, n in again.items() if aid not in window or n > 1),
        "webhook_bad_signatures": receiver.bad_signatures - bad_before,
        # every child `up` restarted meanwhile, the one killed and any other (a crash the fault caused)
        "up_restarted": re.findall(r"bazaar up: (\S+) exited with code", stack.output()[said_before:]),
        "wall_s": round(time.monotonic() - fault_started, 1),
    }


def problems(outcome: dict[str, Any]) -> list[str]:
    """What a fault's figures show wrong; empty when everything was exact."""
    out = []
    if outcome["events_unacked"] or outcome["events_acked"] < outcome["events_posted"]:
        out.append(f"{outcome['events_unacked']} events never acknowledged")
    if outcome["stocks_below_expected"] or outcome["stocks_above_expected"]:
        out.append(f"stocks wrong: {outcome['stocks_below_expected']} below, {outcome['stocks_above_expected']} above")
    if outcome["reports_wrong"] or outcome["analytics_caught_up_s"] is None:
        out.append(f"{outcome['reports_wrong']} of {outcome['reports_checked']} reports wrong")
    if outcome["webhook_missing"] or outcome["webhook_unexpected"] or outcome["webhook_bad_signatures"]:
        out.append(f"webhooks: {outcome['webhook_missing']} missing, {outcome['webhook_unexpected']} unexpected")
    if outcome["webhook_duplicates"] > outcome["webhook_duplicates_allowed"] or outcome["webhook_duplicates_outside_window"]:
        out.append(f"{outcome['webhook_duplicates']} webhook deliveries duplicated")
    if outcome.get("restarted_by_up") is False or ("restarted_by_up" in outcome and outcome["answers_again_s"] is None):
        out.append(f"{outcome['target']} did not come back")
    return out


def day(seed: int, prefix: str, stores: int, events_per_store: int) -> Generator:
    ids = [f"{prefix}-{i}" for i in range(stores)]
    return Generator(GenConfig(stores=stores, events_per_store_day=events_per_store, skus=30, seed=seed, store_ids=ids))


def run_suite(
    base: Path, results: Path, faults: tuple[str, ...] = FAULTS, *, stores: int = 6, events_per_store: int = 90
) -> dict[str, Any]:
    """Every fault in turn on one stack, each on a day of its own; the figures to ``results`` (JSON)."""
    suite_started = time.monotonic()
    stack = ClusterStack(base).start()
    receiver = WebhookReceiver(secrets.token_urlsafe(24))
    client = RetryingClient(stack.api_urls, stack.auth, give_up_s=120)
    suite = Suite(stack, client, receiver)
    days = [day(100 + i, f"f{i}", stores, events_per_store) for i in range(len(faults))]
    report: dict[str, Any] = {"started": time.strftime("%Y-%m-%dT%H:%M:%S%z"), **stack.timings, "faults": []}
    try:
        assert stack.http is not None
        report["webhook_id"] = register_webhook(
            stack.http, stack.api_urls[0], stack.notifier_url, receiver, [s for d in days for s in d.stores]
        )
        for fault, gen in zip(faults, days, strict=True):
            outcome = run_fault(suite, fault, gen)
            report["faults"].append(outcome)
            _write(results, report)
            print(json.dumps(outcome), flush=True)
        check = stack.bazaar("topics", "--check")
        report["topics_check"] = check.stdout.strip().splitlines()[-1:] + ([f"exit {check.returncode}"] if check.returncode else [])
        report["client_total"] = client.delivery.figures()
        report["rss_mib"] = stack.jvm_rss_mib()
        report["suite_wall_s"] = round(time.monotonic() - suite_started, 1)
        _write(results, report)
        return report
    finally:
        client.close()
        receiver.close()
        stack.close()


def _write(path: Path, report: dict[str, object]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(report, indent=2) + "\n")


# ---- the subcommand --------------------------------------------------------------------------------


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--faults", default=",".join(FAULTS), help=f"comma-separated, in order (default {','.join(FAULTS)})")
    parser.add_argument("--stores", type=int, default=20, help="stores per fault's day of load (default 20)")
    parser.add_argument("--events-per-store", type=int, default=300, help="events per store per fault (default 300)")
    parser.add_argument("--dir", type=Path, default=Path(".bazaar/chaos"), help="the cluster's and stack's files (emptied first)")
    parser.add_argument("--out", type=Path, default=Path("test-artifacts/faults/chaos.json"), help="the results file (JSON)")


def run(args: argparse.Namespace) -> int:
    faults = tuple(f for f in args.faults.split(",") if f)
    unknown = set(faults) - set(FAULTS)
    if unknown:
        print(f"bazaar chaos: unknown fault(s) {', '.join(sorted(unknown))}; one of {', '.join(FAULTS)}", file=sys.stderr)
        return 2
    shutil.rmtree(args.dir, ignore_errors=True)
    args.dir.mkdir(parents=True)
    report = run_suite(args.dir.resolve(), args.out, faults, stores=args.stores, events_per_store=args.events_per_store)
    bad = {f["fault"]: problems(f) for f in report["faults"] if problems(f)}
    for fault, wrong in bad.items():
        print(f"bazaar chaos: {fault}: {'; '.join(wrong)}", file=sys.stderr)
    print(f"bazaar chaos: {len(faults)} fault(s), {'all exact' if not bad else f'{len(bad)} NOT exact'}; figures in {args.out}")
    return 1 if bad else 0
