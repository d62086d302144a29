"""One configuration for every Kafka client of every process.

``client_config`` says where the brokers are and how this process proves who it is to them (the
``kafka_security_protocol`` settings: plaintext for the embedded broker, SASL/SCRAM or mutual TLS on
a cluster, docs/deploy.md). ``producer_config``, ``consumer_config`` and ``admin_config`` build on
it; every confluent-kafka Producer, Consumer and AdminClient of the processes is made from one of
them, and the Faust apps (aiokafka) take the same brokers and security from ``faust_broker``.

Overrides are librdkafka's own property names (``{"linger.ms": 2}``); a caller that differs from
the defaults says why beside its override.
"""

from __future__ import annotations

import ssl
from collections.abc import Mapping
from typing import Any

from bazaar_core.logs import librdkafka_logging
from bazaar_core.settings import Settings

SASL = frozenset({"SASL_PLAINTEXT", "SASL_SSL"})
TLS = frozenset({"SSL", "SASL_SSL"})

# Every producer: in order per partition and no duplicates from librdkafka's retries (idempotent),
# acked by every in-sync replica, a key on the partition Kafka's Java client and aiokafka choose
# for it (domain.tokens.partition_for), lz4 as the API has always written the events topic.
PRODUCER: dict[str, Any] = {
    "enable.idempotence": True,
    "acks": "all",
    "partitioner": "murmur2_random",
    "compression.type": "lz4",
    "linger.ms": 5,
}
# Every consumer commits by hand (or never: the followers and readers that assign partitions).
CONSUMER: dict[str, Any] = {"enable.auto.commit": False, "auto.offset.reset": "earliest"}


class KafkaConfigError(ValueError):
    """The Kafka security settings contradict each other (e.g. SASL without a username)."""


def client_config(settings: Settings) -> dict[str, Any]:
    """The brokers and this process's security: what every client of every process starts from."""
    conf: dict[str, Any] = {"bootstrap.servers": settings.kafka_bootstrap}
    protocol = settings.kafka_security_protocol
    if protocol == "PLAINTEXT":
        return conf
    conf["security.protocol"] = protocol.lower()
    if protocol in SASL:
        conf["sasl.mechanism"] = settings.kafka_sasl_mechanism
        conf["sasl.username"] = sasl_username(settings)
        conf["sasl.password"] = sasl_password(settings)
    if protocol in TLS:
        if settings.kafka_ssl_ca_file is not None:
            conf["ssl.ca.location"] = str(settings.kafka_ssl_ca_file)
        cert_and_key = client_certificate(settings)
        if cert_and_key is not None:
            conf["ssl.certificate.location"], conf["ssl.key.location"] = (str(path) for path in cert_and_key)
    return conf


def producer_config(settings: Settings, overrides: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """An idempotent acks=all producer whose records time out after ``produce_timeout_s``."""
    return {
        **client_config(settings),
        **PRODUCER,
        "message.timeout.ms": timeout_ms(settings.produce_timeout_s),
        **librdkafka_logging(),
        **(overrides or {}),
    }


def consumer_config(
    settings: Settings, group_id: str, overrides: Mapping[str, Any] | None = None, *, polled: bool = True
) -> dict[str, Any]:
    """A consumer of ``group_id`` that never commits on its own. ``polled=False`` for one only asked
    for metadata and offsets: its log lines go straight to stderr (never ``poll``ed, a logger's
    queue would only grow)."""
    return {**client_config(settings), "group.id": group_id, **CONSUMER, **_logging(polled), **(overrides or {})}


def admin_config(settings: Settings, overrides: Mapping[str, Any] | None = None, *, polled: bool = False) -> dict[str, Any]:
    """An admin client (creating topics, listing offsets); errors only, to stderr unless ``polled``."""
    return {**client_config(settings), **_logging(polled), **(overrides or {})}


def timeout_ms(seconds: float) -> int:
    return max(1, int(seconds * 1000))


def _logging(polled: bool) -> dict[str, Any]:
    return librdkafka_logging() if polled else {"log_level": 3}


# ---- the credentials -------------------------------------------------------------------------------


def sasl_username(settings: Settings) -> str:
    if not settings.kafka_sasl_username:
        raise KafkaConfigError(f"BAZAAR_KAFKA_SASL_USERNAME is required with {settings.kafka_security_protocol}")
    return settings.kafka_sasl_username


def sasl_password(settings: Settings) -> str:
    """The password, from ``kafka_sasl_password_file`` when set (a mounted Secret: read at start,
    its trailing newline dropped), else ``kafka_sasl_password``."""
    if settings.kafka_sasl_password_file is not None:
        password = settings.kafka_sasl_password_file.read_text().rstrip("\r\n")
    else:
        password = settings.kafka_sasl_password
    if not password:
        raise KafkaConfigError(f"BAZAAR_KAFKA_SASL_PASSWORD (or ..._PASSWORD_FILE) is required with {settings.kafka_security_protocol}")
    return password


def client_certificate(settings: Settings) -> tuple[Any, Any] | None:
    """The client's certificate and key for mutual TLS, or None (TLS that only checks the brokers)."""
    cert, key = settings.kafka_ssl_cert_file, settings.kafka_ssl_key_file
    if (cert is None) != (key is None):
        raise KafkaConfigError("BAZAAR_KAFKA_SSL_CERT_FILE and BAZAAR_KAFKA_SSL_KEY_FILE go together (mutual TLS)")
    return None if cert is None else (cert, key)


def ssl_context(settings: Settings) -> ssl.SSLContext:
    """For aiokafka: trusts ``kafka_ssl_ca_file`` (else the system's CAs), checks the brokers' host
    names as librdkafka does, and presents the client certificate for mutual TLS."""
    ca = settings.kafka_ssl_ca_file
    context = ssl.create_default_context(cafile=str(ca) if ca is not None else None)
    cert_and_key = client_certificate(settings)
    if cert_and_key is not None:
        context.load_cert_chain(str(cert_and_key[0]), str(cert_and_key[1]))
    return context


# ---- Faust (aiokafka) ------------------------------------------------------------------------------


def faust_broker(settings: Settings) -> dict[str, Any]:
    """A Faust app's ``broker`` and ``broker_credentials``: the same brokers and security as every
    confluent-kafka client. The URL scheme is always ``kafka://`` (Faust's aiokafka transport; a
    comma-separated bootstrap becomes one URL per broker); TLS and SASL are in the credentials."""
    from faust.auth import SASLCredentials, SSLCredentials  # only the stream apps import Faust

    protocol = settings.kafka_security_protocol
    credentials: SASLCredentials | SSLCredentials | None = None
    if protocol in SASL:
        credentials = SASLCredentials(
            username=sasl_username(settings),
            password=sasl_password(settings),
            ssl_context=ssl_context(settings) if protocol in TLS else None,  # a context makes it SASL_SSL
            mechanism=settings.kafka_sasl_mechanism,
        )
    elif protocol == "SSL":
        credentials = SSLCredentials(ssl_context(settings))
    return {"broker": f"kafka://{settings.kafka_bootstrap}", "broker_credentials": credentials}
