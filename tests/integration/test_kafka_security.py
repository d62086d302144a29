"""On a broker that asks SASL/SCRAM and authorizes with ACLs (tests/integration/secure_kafka.py), the
users and ACLs that ``bazaar kafka acls`` prints are enough for each process and no more: the API,
the stock worker and the notifier start and serve with their own principals, an event posted to the
API becomes stock, and a principal is refused what its ACLs do not grant (the API writing the
ledger, a worker reading credentials), as is a user with no ACL at all or a wrong password."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

import httpx
import pytest
from confluent_kafka import Consumer, KafkaError, KafkaException, Producer, TopicPartition
from confluent_kafka.admin import AdminClient

from bazaar_core.kafka.acls import PROCESSES, principal_name
from bazaar_core.kafka.admin import ensure_topics
from bazaar_core.kafka.config import admin_config, consumer_config, producer_config
from bazaar_core.kafka.topics import topic_configs, topic_specs
from bazaar_core.settings import Settings
from bazaar_core.supervisor import Child
from tests.authclient import BazaarAuth, admin_key
from tests.conftest import free_ports, stack_settings
from tests.integration.secure_kafka import SecureKafka, client
from tests.integration.test_pipeline import event

pytestmark = [pytest.mark.integration, pytest.mark.slow]


@dataclass
class Cluster:
    kafka: SecureKafka
    settings: Settings  # the app's settings (topics, ports, data) on the secured broker, PLAINTEXT
    passwords: dict[str, str]
    log_dir: Path

    def as_(self, process: str) -> Settings:
        """The settings of ``process``, authenticating as its own principal."""
        return client(self.settings, principal_name(self.settings, process), self.passwords[process])

    def child(self, process: str, command: list[str], health_url: str) -> Child:
        env = {**os.environ, **self.as_(process).to_env()}
        return Child.bazaar(process, command, env, self.log_dir, health_url)


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    base = tmp_path_factory.mktemp("secure")
    port, controller_port, notifier_port = free_ports(3)
    settings = stack_settings(f"127.0.0.1:{port}", base, "secure", notifier_port=notifier_port)
    broker = Settings(data_dir=base / "broker", kafka_bootstrap=settings.kafka_bootstrap, kafka_controller_port=controller_port)
    passwords = {p: f"{p}-{os.urandom(8).hex()}" for p in PROCESSES}
    with SecureKafka(broker) as kafka:
        # the operator: the users and ACLs exactly as `bazaar kafka acls` prints them
        printed = subprocess.run(
            [sys.executable, "-m", "bazaar.cli", "kafka", "acls"],
            env={**os.environ, **settings.to_env()},
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        ).stdout
        env = {"KAFKA_BOOTSTRAP": settings.kafka_bootstrap, "KAFKA_ADMIN_CONFIG": kafka.ops_properties()}
        env.update({f"KAFKA_PASSWORD_{p.upper()}": pw for p, pw in passwords.items()})
        for line in printed.splitlines():
            if line.startswith("kafka-"):
                done = kafka.run_tool(line, env)
                assert done.returncode == 0, f"{line}\n{done.stdout}{done.stderr}"
        stranger = kafka.run_tool(
            'kafka-configs.sh --bootstrap-server "$KAFKA_BOOTSTRAP" --command-config "$KAFKA_ADMIN_CONFIG" --alter '
            '--entity-type users --entity-name stranger --add-config "SCRAM-SHA-512=[password=stranger-secret]"',
            env,
        )
        assert stranger.returncode == 0, stranger.stderr
        c = Cluster(kafka, settings, passwords, base / "logs")
        ensure_topics(c.as_("admin"), topic_specs(settings), topic_configs(settings))  # `bazaar topics`, as the admin
        yield c


def visible_topics(settings: Settings) -> set[str]:
    return set(AdminClient(admin_config(settings)).list_topics(timeout=10).topics)


def produce(settings: Settings, topic: str, value: bytes = b"{}", overrides: dict | None = None) -> KafkaError | None:
    """Write one record as the processes' producers do; the broker's refusal, or None."""
    producer = Producer(producer_config(settings, {"message.timeout.ms": 10_000, **(overrides or {})}))
    errors: list[KafkaError | None] = []
    producer.produce(topic, key=b"k", value=value, on_delivery=lambda err, msg: errors.append(err))
    producer.flush(15)
    assert len(errors) == 1
    return errors[0]


def test_only_the_admin_created_every_topic_and_each_principal_sees_its_own(cluster: Cluster):
    s = cluster.settings
    assert set(topic_specs(s)) <= visible_topics(cluster.kafka.ops)
    worker = visible_topics(cluster.as_("worker"))
    assert {s.events_topic, s.ledger_topic, s.products_topic} <= worker
    assert not {s.credentials_topic, s.webhooks_topic, s.revocations_topic} & worker
    assert visible_topics(client(s, "stranger", "stranger-secret")) == set()


def test_a_principal_is_refused_what_its_acls_do_not_grant(cluster: Cluster):
    s = cluster.settings
    assert produce(cluster.as_("api"), s.events_topic, b"not an event: dead-lettered by the worker") is None
    refused = KafkaError.TOPIC_AUTHORIZATION_FAILED
    assert (produce(cluster.as_("api"), s.ledger_topic) or KafkaError(0)).code() == refused
    assert (produce(cluster.as_("analytics"), s.events_topic) or KafkaError(0)).code() == refused
    # no ACL at all: not even an idempotent producer's id (that needs Write on some topic)
    stranger = client(s, "stranger", "stranger-secret")
    assert (produce(stranger, s.events_topic, overrides={"enable.idempotence": False}) or KafkaError(0)).code() == refused

    # a worker reading credentials: the topic is not there for it, and asking for it is refused
    consumer = Consumer(consumer_config(cluster.as_("worker"), f"{s.topic_prefix}-gapfill-probe"))
    consumer.subscribe([s.credentials_topic])
    codes = set()
    deadline = time.monotonic() + 20
    while KafkaError.TOPIC_AUTHORIZATION_FAILED not in codes and time.monotonic() < deadline:
        msg = consumer.poll(0.5)
        assert msg is None or msg.error() is not None, "a worker read a credential"
        if msg is not None:
            codes.add(msg.error().code())
    consumer.close()
    assert KafkaError.TOPIC_AUTHORIZATION_FAILED in codes, codes

    # a consumer group not granted to the principal
    consumer = Consumer(consumer_config(cluster.as_("worker"), "someone-elses-group"))
    consumer.assign([TopicPartition(s.products_topic, 0, 0)])
    codes = set()
    deadline = time.monotonic() + 20
    while KafkaError.GROUP_AUTHORIZATION_FAILED not in codes and time.monotonic() < deadline:
        msg = consumer.poll(0.5)
        if msg is not None and msg.error() is not None:
            codes.add(msg.error().code())
    consumer.close()
    assert KafkaError.GROUP_AUTHORIZATION_FAILED in codes


def test_a_wrong_password_is_refused(cluster: Cluster):
    wrong = cluster.as_("worker").model_copy(update={"kafka_sasl_password": "not-the-password"})
    with pytest.raises(KafkaException):
        AdminClient(admin_config(wrong)).list_topics(timeout=5)


def test_each_process_serves_with_its_own_principal_and_an_event_becomes_stock(cluster: Cluster):
    s = cluster.settings
    key = admin_key(cluster.as_("admin"))  # `bazaar auth init` as the operator: the admin key on the credentials topic
    worker = cluster.child("worker", ["worker", "--port", str(s.worker_port)], f"http://127.0.0.1:{s.worker_port}/health")
    notifier = cluster.child("notifier", ["notifier"], f"http://127.0.0.1:{s.notifier_port}/health")
    api = cluster.child("api", ["api"], f"http://127.0.0.1:{s.api_port}/health")
    children = [worker, notifier, api]
    try:
        for child in children:
            child.start()
        for child in children:
            child.wait_healthy(timeout=120)  # every view read, every group joined: each ACL it needs is there
        http = httpx.Client(base_url=f"http://127.0.0.1:{s.api_port}", timeout=60, auth=BazaarAuth(key))
        body = event("purchase", store="sec-1", lines=[{"sku": "rice", "quantity": "7", "unit_cost": "100"}], supplier="Metro")
        posted = http.post("/v1/events", json={"events": [body]})
        assert posted.status_code == 202, posted.text
        after = posted.json()["token"]
        stock = http.get("/v1/stores/sec-1/stock/rice", params={"after": after, "timeout_ms": 20000})
        assert stock.status_code == 200, stock.text
        assert Decimal(stock.json()["on_hand"]) == 7
        status = httpx.get(f"http://127.0.0.1:{s.notifier_port}/health", timeout=10).json()
        assert status["status"] == "ok"
    finally:
        for child in children:
            child.stop()
    logs = "".join(child.log_path.read_text(errors="replace") for child in children)
    assert "authorization failed" not in logs.lower(), "a process was refused something it needs"
