"""Per-webhook lanes of the notifier without a broker: the circuit breaker (pure), the in-flight and
pending bounds, isolation of a dead receiver from a healthy one, dead-lettering of a message that
is not an alert, a receiver the address rules refuse, and the per-webhook health and metrics.
Receivers are an ``httpx.MockTransport`` on 127.0.0.1 URLs (so the settings allow http and private
receivers); the broker's writer is a fake that acks what it is given (or holds the acks back)."""

from __future__ import annotations

import asyncio
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from confluent_kafka import KafkaError, KafkaException
from prometheus_client import REGISTRY

from bazaar_core.kafka.follow import Record
from bazaar_core.kafka.writer import Written
from bazaar_core.notifier.egress import Egress, Unresolved
from bazaar_core.notifier.registrations import sealed_record, sealing_key
from bazaar_core.notifier.service import ConsumerFailed, Notifier
from bazaar_core.settings import Settings
from domain.webhooks import CircuitBreaker
from schemas.deadletters import DeadLetter as MessageDeadLetter
from schemas.webhooks import DeadLetter, Delivery, Webhook, pair_key
from tests.integration.alerting import make_alert

pytestmark = pytest.mark.unit

SECRET = "s" * 16


# ---- the breaker -------------------------------------------------------------------------------------


def test_breaker_opens_after_n_consecutive_failures_and_a_success_resets_the_count():
    b = CircuitBreaker(threshold=3, cool_off_s=10)
    assert b.allow(0) == "closed"
    assert not b.failure(0, "e1") and not b.failure(0, "e2")
    assert b.success() is False  # was closed: nothing to report
    assert b.failures == 0
    assert not b.failure(1, "e1") and not b.failure(1, "e2")
    assert b.failure(2, "e3") is True
    assert (b.state, b.last_error, b.failures) == ("open", "e3", 3)
    assert b.allow(2) is None and b.allow(11.9) is None  # cool-off
    assert b.probe_at() == 12


def test_breaker_lets_one_probe_after_the_cool_off_and_its_outcome_decides():
    b = CircuitBreaker(threshold=1, cool_off_s=5)
    b.failure(0, "down")
    assert b.allow(5) == "probe"
    assert b.state == "half_open"
    assert b.allow(5) is None and b.allow(6) is None  # only one probe at a time
    assert b.failure(6, "late answer to an older POST") is False  # not the probe: ignored
    assert b.success() is False and b.state == "half_open"  # nor a stale success
    assert b.failure(7, "still down", probe=True) is True  # the probe failed: another cool-off
    assert b.state == "open" and b.allow(11.9) is None
    assert b.allow(12) == "probe"
    assert b.success(probe=True) is True
    assert (b.state, b.failures) == ("closed", 0)
    assert b.allow(12) == "closed"


# ---- a notifier without a broker ----------------------------------------------------------------------


class FakeWriter:
    """Acks every record at once, unless ``hold`` is set (then the acks wait for it to clear)."""

    def __init__(self) -> None:
        self.records: list[tuple[str, bytes, bytes]] = []
        self.hold: asyncio.Event | None = None

    async def write(self, topic: str, key: bytes, value: bytes | None) -> Written:
        if self.hold is not None:
            await self.hold.wait()
        self.records.append((topic, key, value))
        return Written(0, len(self.records))

    def on(self, topic: str) -> list[tuple[bytes, bytes]]:
        return [(k, v) for t, k, v in self.records if t == topic]


class Msg:
    """What confluent-kafka's consumer hands over."""

    def __init__(
        self, topic: str, partition: int, offset: int, value: bytes | None, key: bytes | None = b"s1", timestamp_ms: int | None = None
    ) -> None:
        self._t, self._p, self._o, self._v, self._k = topic, partition, offset, value, key
        self._ts = int(time.time() * 1000) if timestamp_ms is None else timestamp_ms

    def timestamp(self) -> tuple[int, int]:
        return 1, self._ts  # TIMESTAMP_CREATE_TIME

    def error(self):
        return None

    def topic(self) -> str:
        return self._t

    def partition(self) -> int:
        return self._p

    def offset(self) -> int:
        return self._o

    def value(self) -> bytes | None:
        return self._v

    def key(self) -> bytes | None:
        return self._k

    def headers(self):
        return [("origin", b"test")]


class FakeTopic:
    """The alerts topic: what was fed, and readers for parked webhooks' cursors."""

    def __init__(self) -> None:
        self.partitions: dict[int, list[Msg]] = {}
        self.readers = 0
        self.fail_next = 0  # reads that fail as a broker gone away would

    def append(self, msg: Msg) -> None:
        log = self.partitions.setdefault(msg.partition(), [])
        assert msg.offset() == len(log)
        log.append(msg)

    def reader(self) -> FakeReader:
        self.readers += 1
        return FakeReader(self)


class FakeReader:
    def __init__(self, topic: FakeTopic) -> None:
        self.topic, self.at = topic, {}

    def assign(self, tps) -> None:
        self.at = {tp.partition: tp.offset for tp in tps}

    def consume(self, num: int, timeout: float) -> list[Msg]:
        if self.topic.fail_next:
            self.topic.fail_next -= 1
            raise KafkaException(KafkaError(KafkaError._TRANSPORT))
        out = []
        for p, pos in self.at.items():
            batch = self.topic.partitions.get(p, [])[pos : pos + num - len(out)]
            out += batch
            self.at[p] = pos + len(batch)
        if not out:
            time.sleep(min(timeout, 0.01))
        return out

    def close(self) -> None:
        pass


class Receivers:
    """Paths of a mock receiver: ``ok`` answers 200, ``dead`` never answers (a timeout after
    ``webhook_timeout_s``), ``fail`` answers 500. Records when each POST arrived."""

    def __init__(self, timeout_s: float) -> None:
        self.timeout_s = timeout_s
        self.modes: dict[str, str] = {}
        self.posts: list[tuple[str, str, float]] = []  # (path, alert id, monotonic time)

    async def __call__(self, request: httpx.Request) -> httpx.Response:
        path = request.url.path
        self.posts.append((path, request.headers["X-Bazaar-Alert-Id"], time.monotonic()))
        mode = self.modes.get(path, "ok")
        if mode == "dead":
            await asyncio.sleep(self.timeout_s)
            raise httpx.ReadTimeout("timed out", request=request)
        return httpx.Response(500 if mode == "fail" else 200)

    def count(self, path: str) -> int:
        return sum(1 for p, _, _ in self.posts if p == path)


def settings(**over) -> Settings:
    values = dict(
        kafka_bootstrap="127.0.0.1:9",
        topic_prefix=f"u-{uuid.uuid4().hex[:6]}",
        webhook_timeout_s=0.3,
        webhook_backoff_base_s=0.05,
        webhook_backoff_max_s=0.2,
        webhook_max_attempts=1000,
        webhook_concurrency=2,
        webhook_breaker_failures=2,
        webhook_breaker_cool_off_s=0.5,
        webhook_max_pending=1000,
        webhook_degraded_backlog=5,
        webhook_degraded_age_s=60,
        webhook_allow_http=True,  # the mock receivers' URLs are http://127.0.0.1
        webhook_allow_private=True,
    )
    values.update(over)
    return Settings(**values)


def notifier(s: Settings, receivers: Receivers, *paths: str, egress: Egress | None = None) -> tuple[Notifier, dict[str, str]]:
    n = Notifier(s, http=httpx.AsyncClient(transport=httpx.MockTransport(receivers)), egress=egress)
    n.writer = FakeWriter()
    n._loop = asyncio.get_running_loop()
    n.topic = FakeTopic()
    n._park_reader = n.topic.reader
    n._park_pool = ThreadPoolExecutor(1)
    ids = {}
    created = datetime.now(UTC) - timedelta(minutes=1)
    for path in paths:
        url = path if "://" in path else f"http://127.0.0.1:1{path}"
        hook = Webhook(url=url, secret=SECRET, webhook_id=uuid.uuid4(), created_at=created)
        n.hooks[str(hook.webhook_id)] = hook
        ids[path] = str(hook.webhook_id)
    return n, ids


def feed(n: Notifier, *alerts, partition: int = 0, age_s: float = 0.0) -> None:
    """Put alerts on the (fake) topic and hand them to the notifier as its consumer does."""
    for alert in alerts:
        msg = Msg(
            n.settings.alerts_topic,
            partition,
            len(n.topic.partitions.get(partition, [])),
            alert.model_dump_json().encode(),
            timestamp_ms=int((time.time() - age_s) * 1000),
        )
        n.topic.append(msg)
        n._handle(msg)


async def until(check, timeout: float = 5.0, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.01)


async def stop(n: Notifier) -> None:
    await n._finish()
    await n.http.aclose()
    n._park_pool.shutdown()


def test_a_dead_receiver_delays_only_itself():
    async def scenario():
        s = settings()
        rx = Receivers(s.webhook_timeout_s)
        rx.modes["/dead"] = "dead"
        n, ids = notifier(s, rx, "/dead", "/ok")
        alerts = [make_alert(sku=f"a-{i}") for i in range(20)]
        fed_at = time.monotonic()
        feed(n, *alerts)
        await until(lambda: len(n.writer.on(s.webhook_deliveries_topic)) == 20, what="the healthy webhook's deliveries")
        took = time.monotonic() - fed_at
        deliveries = n.writer.on(s.webhook_deliveries_topic)
        # 20 POSTs two at a time to an instant receiver, while the dead one holds its slots
        assert took < s.webhook_timeout_s, took
        assert {k for k, _ in deliveries} == {pair_key(ids["/ok"], a.alert_id) for a in alerts}
        await until(lambda: n.lanes[ids["/dead"]].breaker.state == "open", what="the dead webhook's circuit")
        # at most its two slots, and one more sent as the first failure freed a slot before the second
        # opened the circuit; none after that during the cool-off
        await asyncio.sleep(0.05)
        sent = rx.count("/dead")
        assert sent <= s.webhook_concurrency + s.webhook_breaker_failures - 1
        await asyncio.sleep(0.2)
        assert rx.count("/dead") == sent
        dead_lane = n.lanes[ids["/dead"]]
        assert len(dead_lane.jobs) == 20
        # the partition's commit is held at the first alert, for the dead webhook's sake
        assert n.tracker.to_commit() == {0: 0}
        n._refresh_view()
        status = n.status()
        assert [d["webhook_id"] for d in status["degraded"]] == [ids["/dead"]]
        assert "backlog of 20 deliveries" in status["degraded"][0]["reasons"][0]
        assert status["degraded"][0]["breaker"] == "open"
        sample = REGISTRY.get_sample_value
        assert sample("bazaar_notifier_webhook_pending", {"webhook_id": ids["/dead"]}) == 20
        assert sample("bazaar_notifier_webhook_pending", {"webhook_id": ids["/ok"]}) == 0
        assert sample("bazaar_notifier_webhook_breaker_state", {"webhook_id": ids["/dead"]}) == 2
        assert sample("bazaar_notifier_webhook_deliveries_total", {"webhook_id": ids["/ok"], "outcome": "delivered"}) == 20
        assert sample("bazaar_notifier_webhook_attempts_total", {"webhook_id": ids["/dead"], "result": "failed"}) >= 2
        assert sample("bazaar_notifier_webhook_degraded", {"webhook_id": ids["/dead"]}) == 1
        await stop(n)

    asyncio.run(scenario())


def test_open_circuit_sends_nothing_during_the_cool_off_then_one_probe_then_the_backlog():
    async def scenario():
        s = settings(webhook_concurrency=4, webhook_breaker_failures=3, webhook_breaker_cool_off_s=0.6)
        rx = Receivers(s.webhook_timeout_s)
        rx.modes["/r"] = "fail"
        n, ids = notifier(s, rx, "/r")
        lane = None
        feed(n, *[make_alert(sku=f"b-{i}") for i in range(10)])
        lane = n.lanes[ids["/r"]]
        await until(lambda: lane.breaker.state == "open", what="the circuit to open")
        opened = time.monotonic()
        await asyncio.sleep(0.05)  # answers to POSTs sent before it opened
        sent = rx.count("/r")
        assert sent <= s.webhook_concurrency + 2
        await asyncio.sleep(0.4)
        assert rx.count("/r") == sent, "no POST while the circuit is open"
        assert lane.attempts["refused"] > 0, "tries in the cool-off fail without a POST"
        rx.modes["/r"] = "ok"
        await until(lambda: rx.count("/r") > sent, what="the probe")
        probe_at = rx.posts[sent][2]
        assert probe_at - opened >= s.webhook_breaker_cool_off_s - 0.05
        # the probe succeeded: every waiting delivery goes now, not at the end of its own backoff
        await until(lambda: len(n.writer.on(s.webhook_deliveries_topic)) == 10, timeout=1.0, what="the backlog")
        assert lane.breaker.state == "closed"
        assert n.tracker.to_commit() == {0: 10}
        await stop(n)

    asyncio.run(scenario())


def test_in_flight_posts_per_webhook_are_bounded():
    async def scenario():
        s = settings(webhook_concurrency=3, webhook_breaker_failures=1000)
        rx = Receivers(0.2)
        rx.modes["/slow"] = "dead"
        n, ids = notifier(s, rx, "/slow")
        feed(n, *[make_alert(sku=f"c-{i}") for i in range(12)])
        lane = n.lanes[ids["/slow"]]
        peak = 0
        for _ in range(50):
            peak = max(peak, lane.in_flight)
            assert lane.in_flight <= 3
            await asyncio.sleep(0.01)
        assert peak == 3
        await stop(n)

    asyncio.run(scenario())


def test_a_burst_past_the_bound_waits_on_the_topic_and_is_delivered_in_full():
    async def scenario():
        s = settings(webhook_max_pending=4, webhook_concurrency=2)
        rx = Receivers(s.webhook_timeout_s)
        n, ids = notifier(s, rx, "/ok")
        alerts = [make_alert(sku=f"burst-{i}") for i in range(25)]
        n.topic.fail_next = 2  # and the cursor's first reads fail: it reads again from where it stood
        feed(n, *alerts)  # one consumer batch: far past the bound before any delivery finishes
        lane = n.lanes[ids["/ok"]]
        assert len(lane.jobs) == 4 and lane.parked == {0: 4}
        assert n.tracker.to_commit() == {0: 0}
        await until(lambda: len(n.writer.on(s.webhook_deliveries_topic)) == 25, what="every alert of the burst")
        assert rx.count("/ok") == 25 and n.writer.on(s.webhook_dead_letters_topic) == []
        assert {k for k, _ in n.writer.on(s.webhook_deliveries_topic)} == {pair_key(ids["/ok"], a.alert_id) for a in alerts}
        await until(lambda: not lane.parked and n.tracker.to_commit() == {0: 25}, what="the cursor to hand back")
        # handed back: the next alert goes straight to the lane
        feed(n, make_alert(sku="after"))
        await until(lambda: rx.count("/ok") == 26, what="the alert after the burst")
        assert n.topic.readers == 1
        await stop(n)

    asyncio.run(scenario())


def test_past_its_bound_a_dead_webhook_holds_the_commit_not_memory_and_catches_up_when_back():
    async def scenario():
        s = settings(webhook_max_pending=4)
        rx = Receivers(s.webhook_timeout_s)
        rx.modes["/dead"] = "dead"
        n, ids = notifier(s, rx, "/dead", "/ok")
        alerts = [make_alert(sku=f"d-{i}") for i in range(10)]
        for alert in alerts:  # one at a time: the healthy receiver keeps up, the dead one fills
            feed(n, alert)
            await asyncio.sleep(0.01)
        replay = alerts[7]
        feed(n, replay)  # the stream's replay of an alert parked for the dead webhook
        await until(lambda: len(n.writer.on(s.webhook_deliveries_topic)) == 10, what="the healthy webhook")
        lane = n.lanes[ids["/dead"]]
        assert len(lane.jobs) == 4 and lane.held == 4
        assert lane.parked == {0: 4}
        assert n.tracker.to_commit() == {0: 0} and n.tracker.held() == {0: 11}
        n._refresh_view()
        [named] = n.status()["degraded"]
        assert named["webhook_id"] == ids["/dead"] and named["parked_messages"] == 7
        assert any("7 alert messages parked" in r for r in named["reasons"])
        assert REGISTRY.get_sample_value("bazaar_notifier_webhook_parked_messages", {"webhook_id": ids["/dead"]}) == 7
        # the receiver comes back: the probe closes the circuit, and the cursor brings the rest
        rx.modes["/dead"] = "ok"
        await until(lambda: len(n.writer.on(s.webhook_deliveries_topic)) == 20, what="the dead webhook's backlog")
        assert rx.count("/ok") == 10
        assert {k for k, _ in n.writer.on(s.webhook_deliveries_topic)} == (
            {pair_key(ids["/dead"], a.alert_id) for a in alerts} | {pair_key(ids["/ok"], a.alert_id) for a in alerts}
        )
        assert n.writer.on(s.webhook_dead_letters_topic) == []
        await until(lambda: not lane.parked and n.tracker.to_commit() == {0: 11}, what="the commit past all")
        await stop(n)

    asyncio.run(scenario())


def test_parked_alerts_older_than_the_retry_schedule_are_dead_lettered_at_the_cursor():
    async def scenario():
        s = settings(webhook_max_pending=2, webhook_max_attempts=3, webhook_breaker_failures=2, webhook_breaker_cool_off_s=30)
        rx = Receivers(s.webhook_timeout_s)
        rx.modes["/dead"] = "dead"
        n, ids = notifier(s, rx, "/dead")
        alerts = [make_alert(sku=f"e-{i}") for i in range(6)]
        feed(n, *alerts, age_s=60)
        lane = n.lanes[ids["/dead"]]
        assert lane.parked == {0: 2}
        await until(lambda: len(n.writer.on(s.webhook_dead_letters_topic)) == 6, what="all six dead letters")
        letters = [DeadLetter.model_validate_json(v) for _, v in n.writer.on(s.webhook_dead_letters_topic)]
        expired = [d for d in letters if d.last_error.startswith("expired: ")]
        assert len(expired) == 4 and all(d.attempts == 0 for d in expired)
        assert {str(d.alert_id) for d in expired} == {str(a.alert_id) for a in alerts[2:]}
        assert rx.count("/dead") == 2, "nothing posted for the expired ones"
        await until(lambda: not lane.parked and n.tracker.to_commit() == {0: 6}, what="the commit past all")
        await stop(n)

    asyncio.run(scenario())


def test_dead_letter_after_the_last_attempt_frees_the_commit():
    async def scenario():
        s = settings(webhook_max_attempts=3, webhook_breaker_failures=100)
        rx = Receivers(s.webhook_timeout_s)
        rx.modes["/f"] = "fail"
        n, ids = notifier(s, rx, "/f")
        alert = make_alert()
        feed(n, alert)
        await until(lambda: n.writer.on(s.webhook_dead_letters_topic), what="the dead letter")
        [(key, value)] = n.writer.on(s.webhook_dead_letters_topic)
        dead = DeadLetter.model_validate_json(value)
        assert (dead.attempts, dead.last_error) == (3, "HTTP 500")
        assert rx.count("/f") == 3
        assert n.tracker.to_commit() == {0: 1}
        await stop(n)

    asyncio.run(scenario())


class Names:
    """Host names resolved from a table (no lookup leaves the machine); answers can change, as DNS can."""

    def __init__(self, table: dict[str, list[str]]) -> None:
        self.table = table

    async def __call__(self, host: str, port: int) -> list[str]:
        if host not in self.table:
            raise Unresolved(f"{host} does not resolve")
        return self.table[host]


def test_a_receiver_the_address_rules_refuse_is_dead_lettered_at_once_without_a_post():
    async def scenario():
        s = settings(webhook_allow_private=False, webhook_breaker_failures=1)
        names = Names({"hooks.example.com": ["93.184.215.14"]})
        rx = Receivers(s.webhook_timeout_s)
        n, ids = notifier(s, rx, "http://hooks.example.com/in", "http://gone.example.com/in", egress=Egress(s, names))
        wid = ids["http://hooks.example.com/in"]
        before = REGISTRY.get_sample_value("bazaar_notifier_deliveries_total", {"outcome": "refused"}) or 0
        # the name was public at registration; now it resolves to the cloud metadata address
        names.table["hooks.example.com"] = ["93.184.215.14", "169.254.169.254"]
        alert = make_alert()
        feed(n, alert)
        await until(lambda: len(n.writer.on(s.webhook_dead_letters_topic)) == 1, what="the refused delivery's dead letter")
        [(key, value)] = n.writer.on(s.webhook_dead_letters_topic)
        dead = DeadLetter.model_validate_json(value)
        assert key == pair_key(wid, alert.alert_id) and dead.attempts == 1
        assert dead.last_error.startswith("refused: resolves to 169.254.169.254 is link-local"), dead.last_error
        assert rx.count("/in") == 0, "nothing was sent"
        lane = n.lanes[wid]
        assert lane.counts["refused"] == 1 and lane.counts["dead_letter"] == 0
        assert lane.breaker.state == "closed", "a refusal says nothing of the receiver's health"
        assert REGISTRY.get_sample_value("bazaar_notifier_deliveries_total", {"outcome": "refused"}) == before + 1
        n._refresh_view()
        assert REGISTRY.get_sample_value("bazaar_notifier_webhook_deliveries_total", {"webhook_id": wid, "outcome": "refused"}) == 1
        # a name that does not resolve is a failure like any other: tried again, not refused
        gone = n.lanes[ids["http://gone.example.com/in"]]
        await until(lambda: gone.attempts["failed"] >= 2, what="the unresolved receiver's retries")
        assert gone.counts["refused"] == 0 and "does not resolve" in gone.breaker.last_error
        assert n.tracker.to_commit() == {0: 0}  # held for the one still retrying
        await stop(n)

    asyncio.run(scenario())


def test_a_secret_that_does_not_open_fails_each_attempt_and_is_never_sent_blank():
    async def scenario():
        s = settings(webhook_max_attempts=2, webhook_breaker_failures=100)
        rx = Receivers(s.webhook_timeout_s)
        n, ids = notifier(s, rx, "/k")
        n.unopened[ids["/k"]] = "its secret does not open here: sealed with key 'abc', which this process does not hold"
        feed(n, make_alert())
        await until(lambda: n.writer.on(s.webhook_dead_letters_topic), what="the dead letter")
        [(_, value)] = n.writer.on(s.webhook_dead_letters_topic)
        dead = DeadLetter.model_validate_json(value)
        assert dead.attempts == 2 and "does not open" in dead.last_error
        assert rx.count("/k") == 0
        await stop(n)

    asyncio.run(scenario())


def test_registrations_are_read_sealed_from_before_sealing_or_unopenable(tmp_path):
    s = settings()
    n = Notifier(s)
    n.key = sealing_key(tmp_path / "ours")
    theirs = sealing_key(tmp_path / "theirs")
    created = datetime.now(UTC)
    hooks = [
        Webhook(url=f"https://h{i}.example.com/", secret=f"secret-number-{i}-xxxx", webhook_id=uuid.uuid4(), created_at=created)
        for i in range(3)
    ]
    values = [
        sealed_record(n.key, hooks[0]).model_dump_json(),  # sealed with our key
        hooks[1].model_dump_json(),  # written before sealing: the secret in clear
        sealed_record(theirs, hooks[2]).model_dump_json(),  # sealed with a key this notifier lacks
    ]
    for offset, (hook, value) in enumerate(zip(hooks, values)):
        n._on_hook(Record(s.webhooks_topic, 0, offset, str(hook.webhook_id).encode(), value.encode()))
    assert n.hooks[str(hooks[0].webhook_id)] == hooks[0]
    assert n.hooks[str(hooks[1].webhook_id)] == hooks[1]
    assert n.hooks[str(hooks[2].webhook_id)].secret == ""  # kept (its deliveries fail visibly), never used
    assert "does not hold" in n.unopened[str(hooks[2].webhook_id)]
    n._on_hook(Record(s.webhooks_topic, 0, 3, str(hooks[2].webhook_id).encode(), None))
    assert str(hooks[2].webhook_id) not in n.hooks and not n.unopened


def test_a_message_that_is_not_an_alert_is_dead_lettered_and_the_partition_goes_on():
    async def scenario():
        s = settings()
        rx = Receivers(s.webhook_timeout_s)
        n, ids = notifier(s, rx, "/ok")
        hold = n.writer.hold = asyncio.Event()
        good = make_alert()
        topic = s.alerts_topic
        for offset, value in enumerate([b"\xff not json", b'{"type": "alert"}', None]):
            n._handle(Msg(topic, 0, offset, value))
        n._handle(Msg(topic, 0, 3, good.model_dump_json().encode()))
        await asyncio.sleep(0.05)
        assert n.tracker.to_commit() == {0: 0}, "nothing committed before the dead letters are acked"
        hold.set()
        await until(lambda: len(n.writer.on(s.webhook_deliveries_topic)) == 1, what="the good alert after the bad ones")
        await until(lambda: n.tracker.to_commit() == {0: 4}, what="the commit past all four")
        letters = {k.decode(): MessageDeadLetter.model_validate_json(v) for k, v in n.writer.on(s.dead_letters_topic)}
        assert set(letters) == {f"{topic}|0|{o}" for o in range(3)}
        first = letters[f"{topic}|0|0"]
        assert (first.source, first.error_type, first.raw_value(), first.headers) == (
            "notifier",
            "ValidationError",
            b"\xff not json",
            {"origin": "test"},
        )
        assert letters[f"{topic}|0|2"].value is None
        await stop(n)

    asyncio.run(scenario())


def test_a_fatal_consumer_error_ends_the_notifier_and_an_ordinary_one_does_not():
    """Fenced as a static member (seen under a broker paused 20 s by the fault suite), the consumer
    is done: the notifier exits to be restarted rather than stay up delivering nothing."""

    class Failed(Msg):
        def __init__(self, error: KafkaError) -> None:
            super().__init__("alerts", 0, 0, None)
            self._error = error

        def error(self) -> KafkaError:
            return self._error

    async def scenario():
        s = settings()
        n, _ = notifier(s, Receivers(s.webhook_timeout_s), "/ok")
        n._handle(Failed(KafkaError(KafkaError._TRANSPORT, "broker down")))  # retried by librdkafka itself
        fenced = KafkaError(KafkaError.FENCED_INSTANCE_ID, "Static consumer fenced", fatal=True)
        with pytest.raises(ConsumerFailed, match="fenced"):
            n._handle(Failed(fenced))
        # what each poll hands over after it, as the fault suite's log shows
        after = KafkaError(KafkaError._FATAL, "Fatal error: Broker: Static consumer fenced by other consumer with same group.instance.id")
        with pytest.raises(ConsumerFailed, match="Fatal error"):
            n._handle(Failed(after))
        await stop(n)

    asyncio.run(scenario())


def test_a_retry_requested_goes_through_the_webhooks_lane():
    async def scenario():
        s = settings()
        rx = Receivers(s.webhook_timeout_s)
        n, ids = notifier(s, rx, "/ok")
        alert = make_alert()
        key = pair_key(ids["/ok"], alert.alert_id)
        n.dead[key] = DeadLetter(
            webhook_id=ids["/ok"],
            alert_id=alert.alert_id,
            store_id="s1",
            kind="low_stock",
            body=alert.model_dump_json(),
            attempts=12,
            last_error="HTTP 500",
            dead_at=datetime.now(UTC),
            state="retry_requested",
        )
        n._start_retry(key)
        n._start_retry(key)  # asked twice: one delivery
        await until(lambda: n.writer.on(s.webhook_dead_letters_topic), what="the redelivered record")
        [(k, v)] = n.writer.on(s.webhook_dead_letters_topic)
        assert DeadLetter.model_validate_json(v).state == "redelivered"
        [(k2, v2)] = n.writer.on(s.webhook_deliveries_topic)
        assert k == k2 == key and Delivery.model_validate_json(v2).status == 200
        assert rx.count("/ok") == 1
        await stop(n)

    asyncio.run(scenario())
