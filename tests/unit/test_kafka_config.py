"""Every Kafka client of every process carries the same brokers and security (bazaar_core/kafka/config.py):
the confluent-kafka configs librdkafka accepts, the Faust apps' credentials, and no client built around them."""

from __future__ import annotations

import ast
import subprocess
from pathlib import Path

import pytest
from confluent_kafka import Consumer, Producer
from confluent_kafka.admin import AdminClient

from bazaar_core.kafka.config import (
    KafkaConfigError,
    admin_config,
    client_config,
    consumer_config,
    faust_broker,
    producer_config,
)
from bazaar_core.settings import Settings

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[2]
PROCESS_PACKAGES = ("api", "bazaar_core", "streams", "clickhouse", "agents", "bazaar")
BOOTSTRAP = "127.0.0.1:1"  # nothing listens: a client made here never reaches a broker
SCRAM = {
    "kafka_bootstrap": BOOTSTRAP,
    "kafka_security_protocol": "SASL_PLAINTEXT",
    "kafka_sasl_username": "bazaar-worker",
    "kafka_sasl_password": "s3cret",
}


@pytest.fixture(scope="module")
def tls_files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A CA and a client certificate it signed (mutual TLS), made with openssl."""
    d = tmp_path_factory.mktemp("tls")

    def openssl(*args: str) -> None:
        subprocess.run(["openssl", *args], check=True, capture_output=True, cwd=d)

    openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-days", "2",
            "-subj", "/CN=bazaar-ca", "-keyout", "ca.key", "-out", "ca.pem")  # fmt: skip
    openssl("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
            "-subj", "/CN=bazaar-worker", "-keyout", "client.key", "-out", "client.csr")  # fmt: skip
    openssl("x509", "-req", "-in", "client.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial", "-days", "2", "-out", "client.pem")
    return {"ca": d / "ca.pem", "cert": d / "client.pem", "key": d / "client.key"}


def test_plaintext_is_the_bootstrap_alone():
    assert client_config(Settings(kafka_bootstrap="a:9092,b:9092")) == {"bootstrap.servers": "a:9092,b:9092"}


def test_sasl_scram_carries_the_principal_and_its_password():
    conf = client_config(Settings(**SCRAM))
    assert conf == {
        "bootstrap.servers": BOOTSTRAP,
        "security.protocol": "sasl_plaintext",
        "sasl.mechanism": "SCRAM-SHA-512",
        "sasl.username": "bazaar-worker",
        "sasl.password": "s3cret",
    }


def test_the_password_file_wins_and_loses_its_newline(tmp_path: Path):
    secret = tmp_path / "password"
    secret.write_text("from-the-secret\n")
    conf = client_config(Settings(**SCRAM, kafka_sasl_password_file=secret))
    assert conf["sasl.password"] == "from-the-secret"


def test_the_password_stays_out_of_the_settings_repr():
    assert "s3cret" not in repr(Settings(**SCRAM))


@pytest.mark.parametrize(
    ("overrides", "missing"),
    [
        ({"kafka_sasl_username": ""}, "USERNAME"),
        ({"kafka_sasl_password": ""}, "PASSWORD"),
    ],
)
def test_sasl_without_a_username_or_password_is_refused(overrides: dict, missing: str):
    with pytest.raises(KafkaConfigError, match=missing):
        client_config(Settings(**{**SCRAM, **overrides}))


def test_sasl_ssl_trusts_the_ca_file(tls_files: dict[str, Path]):
    conf = client_config(Settings(**{**SCRAM, "kafka_security_protocol": "SASL_SSL"}, kafka_ssl_ca_file=tls_files["ca"]))
    assert conf["security.protocol"] == "sasl_ssl"
    assert conf["ssl.ca.location"] == str(tls_files["ca"])
    assert conf["sasl.username"] == "bazaar-worker"
    assert "ssl.certificate.location" not in conf


def test_mutual_tls_presents_the_client_certificate(tls_files: dict[str, Path]):
    settings = mtls(tls_files)
    conf = client_config(settings)
    assert conf["security.protocol"] == "ssl"
    assert (conf["ssl.certificate.location"], conf["ssl.key.location"]) == (str(tls_files["cert"]), str(tls_files["key"]))
    assert "sasl.username" not in conf


def test_a_certificate_without_its_key_is_refused(tls_files: dict[str, Path]):
    with pytest.raises(KafkaConfigError, match="go together"):
        client_config(Settings(kafka_security_protocol="SSL", kafka_ssl_cert_file=tls_files["cert"]))


def mtls(tls_files: dict[str, Path]) -> Settings:
    return Settings(
        kafka_bootstrap=BOOTSTRAP,
        kafka_security_protocol="SSL",
        kafka_ssl_ca_file=tls_files["ca"],
        kafka_ssl_cert_file=tls_files["cert"],
        kafka_ssl_key_file=tls_files["key"],
    )


@pytest.mark.parametrize("secured", ["scram", "mtls"])
def test_producer_consumer_and_admin_configs_carry_the_security_and_librdkafka_takes_them(secured: str, tls_files: dict[str, Path]):
    settings = Settings(**{**SCRAM, "kafka_security_protocol": "SASL_SSL"}, kafka_ssl_ca_file=tls_files["ca"])
    if secured == "mtls":
        settings = mtls(tls_files)
    security = client_config(settings)
    configs = {
        "producer": producer_config(settings, {"linger.ms": 2}),
        "consumer": consumer_config(settings, "g", {"enable.partition.eof": True}),
        "admin": admin_config(settings),
    }
    for kind, conf in configs.items():
        assert security.items() <= conf.items(), kind
    assert configs["producer"]["linger.ms"] == 2 and configs["producer"]["enable.idempotence"] is True
    assert configs["consumer"]["group.id"] == "g" and configs["consumer"]["enable.auto.commit"] is False
    # librdkafka refuses an unknown property, a bad value or an unreadable certificate at construction
    clients = [Producer(configs["producer"]), Consumer(configs["consumer"]), AdminClient(configs["admin"])]
    assert len(clients) == 3
    clients[1].close()


def test_the_processes_producers_carry_the_security():
    from api.producer import EventProducer
    from bazaar_core.kafka.outbox import Outbox
    from bazaar_core.kafka.writer import RecordWriter

    settings = Settings(**SCRAM)
    security = client_config(settings)
    for producer in (EventProducer(settings), RecordWriter(settings), Outbox(settings)):
        assert security.items() <= producer._config.items(), type(producer).__name__
    # what differs, on purpose: a writer's lone record does not wait 5 ms; a batch's outbox holds a whole batch
    assert RecordWriter(settings)._config["linger.ms"] == 2
    assert Outbox(settings)._config["queue.buffering.max.messages"] == 1_000_000
    assert Outbox(settings)._config["message.timeout.ms"] == int(settings.stream_produce_timeout_s * 1000)


def test_the_followers_consumers_carry_the_security(monkeypatch: pytest.MonkeyPatch):
    from bazaar_core.kafka import follow

    made: list[dict] = []
    monkeypatch.setattr(follow, "Consumer", lambda conf: made.append(conf) or _Closed())
    settings = Settings(**SCRAM)
    follower = follow.TopicFollower(settings, {"t": 1}, lambda rec: None, name="probe")
    follower._meta_consumer()
    assert made and all(client_config(settings).items() <= conf.items() for conf in made)
    assert made[0]["group.id"].startswith(follower.group_prefix)


class _Closed:
    def close(self) -> None:
        pass


def test_faust_apps_take_the_same_brokers_and_credentials(tls_files: dict[str, Path]):
    from faust.auth import SASLCredentials, SSLCredentials
    from faust.transport.drivers.aiokafka import credentials_to_aiokafka_auth

    import clickhouse.app
    import streams.app

    plain = faust_broker(Settings(kafka_bootstrap="a:9092,b:9092"))
    assert plain == {"broker": "kafka://a:9092,b:9092", "broker_credentials": None}

    scram = Settings(**{**SCRAM, "kafka_security_protocol": "SASL_SSL"}, kafka_ssl_ca_file=tls_files["ca"])
    for make_app in (streams.app.make_app, clickhouse.app.make_app):
        app = make_app(scram)
        assert [str(u) for u in app.conf.broker] == [f"kafka://{BOOTSTRAP}"]
        credentials = app.conf.broker_credentials
        assert isinstance(credentials, SASLCredentials)
        auth = credentials_to_aiokafka_auth(credentials)
        assert auth["security_protocol"] == "SASL_SSL" and auth["sasl_mechanism"] == "SCRAM-SHA-512"
        assert (auth["sasl_plain_username"], auth["sasl_plain_password"]) == ("bazaar-worker", "s3cret")
        assert auth["ssl_context"] is not None

    sasl_plain = faust_broker(Settings(**SCRAM))["broker_credentials"]
    assert credentials_to_aiokafka_auth(sasl_plain)["security_protocol"] == "SASL_PLAINTEXT"

    tls = faust_broker(mtls(tls_files))["broker_credentials"]
    assert isinstance(tls, SSLCredentials)
    assert credentials_to_aiokafka_auth(tls)["security_protocol"] == "SSL"


def _kafka_client_calls(tree: ast.AST) -> list[ast.Call]:
    return [
        node
        for node in ast.walk(tree)
        if isinstance(node, ast.Call)
        and getattr(node.func, "id", getattr(node.func, "attr", None)) in {"Producer", "Consumer", "AdminClient", "KafkaConsumer"}
    ]


# Clients built from a config made by a builder a line earlier (in the same class's __init__)
BUILT_EARLIER = {("bazaar_core/kafka/writer.py", "self._config"), ("api/producer.py", "{**self._config, 'error_cb': self._on_error}")}


def test_every_client_in_the_processes_is_built_from_the_one_configuration():
    builders = {"producer_config", "consumer_config", "admin_config"}
    strays = []
    for package in PROCESS_PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            rel = path.relative_to(ROOT).as_posix()
            source = path.read_text()
            if rel != "bazaar_core/kafka/config.py":
                assert '"bootstrap.servers":' not in source, f"{rel} builds a Kafka config of its own"
                assert "kafka://" not in source, f"{rel} builds a Faust broker URL of its own"
            for call in _kafka_client_calls(ast.parse(source)):
                if not call.args:
                    continue  # e.g. a test double's constructor
                arg = call.args[0]
                made_by = getattr(getattr(arg, "func", None), "id", None)
                if made_by not in builders and (rel, ast.unparse(arg)) not in BUILT_EARLIER:
                    strays.append(f"{rel}:{call.lineno} {ast.unparse(call)}")
    assert not strays, strays


def test_the_embedded_broker_stays_plaintext(tmp_path: Path):
    from bazaar_core.kafka.local import KafkaSetupError, LocalKafka

    kafka = LocalKafka(Settings(**SCRAM, data_dir=tmp_path))
    with pytest.raises(KafkaSetupError, match="plaintext on 127.0.0.1"):
        kafka.start()
    assert kafka.pid is None
