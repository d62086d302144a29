"""One settings class for every process. Environment variables use the prefix ``BAZAAR_``."""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="BAZAAR_", extra="ignore")

    # Where every process keeps its data (broker logs, RocksDB tables, analytics).
    data_dir: Path = Path(".bazaar")

    # Kafka
    kafka_bootstrap: str = "127.0.0.1:9092"
    kafka_controller_port: int = 9093
    kafka_version: str = "3.9.1"
    kafka_cache_dir: Path = Field(default_factory=lambda: Path.home() / ".cache" / "bazaar" / "kafka")
    kafka_heap: str = "512m"
    kafka_jvm_opts: str = ""  # extra JVM options for the local broker, space-separated (e.g. "-XX:+UseSerialGC")
    # Nodes of the local cluster `bazaar kafka` and `bazaar up` run (bazaar_core/kafka/local.py): 1 is
    # the embedded single broker; 3 a three-voter KRaft cluster, node i on the bootstrap and controller
    # ports + 2i.
    kafka_nodes: int = Field(1, ge=1, le=9)
    topic_prefix: str = "bazaar"
    partitions: int = 8
    # Replicas of every topic the project creates (bazaar_core/kafka/topics.py, Faust's own topics too),
    # and how many of them must have a record before a producer (acks=all) is told it is written: 1 and
    # 1 on the embedded single broker; 3 and 2 on a cluster, so one lost broker loses nothing and
    # stops no write.
    replication_factor: int = Field(1, ge=1)
    min_insync_replicas: int = Field(1, ge=1)
    # How every Kafka client of every process authenticates (bazaar_core/kafka/config.py; docs/deploy.md).
    # The embedded broker (`bazaar kafka`) is plaintext on 127.0.0.1; a cluster asks SASL/SCRAM or mTLS.
    kafka_security_protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] = "PLAINTEXT"
    kafka_sasl_mechanism: Literal["SCRAM-SHA-512", "SCRAM-SHA-256", "PLAIN"] = "SCRAM-SHA-512"
    kafka_sasl_username: str = ""  # this process's principal (User:<name>)
    kafka_sasl_password: str = Field("", repr=False)
    kafka_sasl_password_file: Path | None = None  # read at start instead (a mounted Secret); wins over the password
    kafka_ssl_ca_file: Path | None = None  # CA of the brokers' certificates (None: the system's CAs)
    kafka_ssl_cert_file: Path | None = None  # client certificate and key for mutual TLS (SSL) ...
    kafka_ssl_key_file: Path | None = None  # ... whose subject is the principal

    # Stream worker
    app_id: str = "bazaar-inventory"
    worker_host: str = "127.0.0.1"
    worker_port: int = 6066
    worker_advertised_host: str | None = None  # how other workers reach this one (default worker_host)
    late_window_days: int = 30  # an event id is recognised this long after the server received it (domain/stock.py)
    velocity_window_days: int = 14  # days of sales behind the running-out (days of cover) alert
    void_window_days: int = 35  # a sale can be voided this long after the server received it (domain/voids.py)
    standby_replicas: int = 0
    session_timeout_s: float = 10.0  # how soon a dead worker's partitions are reassigned
    stream_batch_max: int = 500  # most events the stock agent applies in one batch (one state write per key)
    stream_cache_keys: int = 50_000  # decoded (store, sku) states a worker keeps in memory between batches
    # Which way a batch goes through the stock rules (streams/core.py): "rust", the compiled batch core
    # (batchcore/, built by ./bazaar.sh setup), with the Python rules for the batches it leaves to them;
    # "python", the Python rules (domain/) alone; "auto", rust when the extension imports, else python.
    stream_core: Literal["rust", "python", "auto"] = "auto"
    # Fetched events a worker buffers ahead of the agent, and most records one fetch hands over. The
    # buffer stops fetching at 80 % full; with room for a whole fetch above that it never fills, so
    # the fetcher never hands over events one at a time waiting for room (a task per event).
    stream_buffer_max: int = 16_384
    stream_fetch_max: int = 2000
    # How long the broker may hold a worker's fetch waiting for data. aiokafka keeps one fetch in
    # flight per broker, for the partitions that have nothing buffered; when those are idle ones
    # (Faust's __leader topic, the catalog topics) it waits this long, and the busy partitions are
    # not fetched meanwhile. Faust's 1,500 ms stalled busy partitions that way; an idle worker pays
    # one empty fetch per this many ms.
    stream_fetch_wait_ms: int = Field(25, ge=1, le=1500)
    # How much data the broker gathers before it answers a worker's fetch (else it answers when the
    # wait above ends). With 1 (aiokafka's default) each fetch at a steady load brings the few
    # records produced since the last; 64 KB makes a worker fetch about once per wait instead (less
    # CPU per event, for answers a little later at low rates), and a backlog still comes at once.
    stream_fetch_min_bytes: int = Field(65_536, ge=1, le=1 << 20)
    stream_produce_timeout_s: float = 60.0  # a changelog/ledger/alert record not acked by then crashes the worker (replayed)
    # RocksDB memory of each partition's database of the stock table (a worker opens one per partition
    # it holds): up to ``write_buffers`` memtables of ``write_buffer_mb``, and a block cache. Faust's
    # memtables are kept (smaller ones cost a worker with millions of keys more CPU in flushes and
    # compactions); its 2 GB block cache per partition is not: it would let a worker
    # grow towards 16 GB at 8 partitions as reads warm it.
    stream_rocksdb_write_buffer_mb: int = Field(64, ge=1)
    stream_rocksdb_write_buffers: int = Field(3, ge=2)
    stream_rocksdb_block_cache_mb: int = Field(64, ge=1)

    # API
    api_host: str = "127.0.0.1"
    api_port: int = 8000
    worker_urls: list[str] = ["http://127.0.0.1:6066"]
    produce_timeout_s: float = 5.0
    max_batch: int = 500
    # How far ahead of the server's clock an event's occurred_at may be (a terminal's clock runs fast);
    # later ones are refused with 422, as are those before 2000-01-01.
    clock_skew_s: float = Field(86_400.0, ge=0, le=30 * 86_400)
    api_access_log: bool = False  # uvicorn's line per request (ingest and rejections are counted by metrics)
    catalog_strict: bool = False  # every store counts as managed: events of unregistered stores are refused
    uncatalogued_publish_s: float = 5.0  # how often an API instance publishes its changed uncatalogued totals to the others
    sse_heartbeat_s: float = 15.0  # comment line on idle alert streams
    web_dist: Path = Path(__file__).resolve().parent.parent / "web" / "dist"  # the built web app the API serves
    analytics_url: str = ""  # how the API and `bazaar report` reach `bazaar analytics`; "" = http://worker_host:analytics_port
    # Bounds on every request (api/guard.py, api/server.py): no one client can hold the API's memory,
    # connections or request slots.
    max_body_bytes: int = Field(2_097_152, ge=1024)  # largest body (413 beyond), except a catalog import's
    max_import_bytes: int = Field(64 * 1024 * 1024, ge=1024)  # largest catalog CSV (POST /v1/products:import)
    body_timeout_s: float = Field(30.0, gt=0)  # longest a request may wait for its body to arrive (408, closed)
    import_timeout_s: float = Field(300.0, gt=0)  # the same for a catalog import's body
    header_timeout_s: float = Field(10.0, gt=0)  # connect (or a keep-alive request's first byte) to end of headers
    api_keep_alive_s: float = Field(5.0, gt=0)  # an idle keep-alive connection is closed after this
    api_max_requests: int = Field(256, ge=1)  # in flight (503 + Retry-After beyond); /health, /metrics, alert streams apart
    api_max_connections: int = Field(1000, ge=1)  # uvicorn's limit_concurrency: open connections (plain 503 beyond)

    # Analytics (`bazaar analytics`, the one process that owns the analytics database)
    analytics_host: str | None = None  # the interface its web port listens on; None = worker_host
    analytics_port: int = 6068
    clickhouse_dsn: str = ""  # "" = embedded chDB in data_dir/clickhouse; or http(s)://user:password@host:8123/database
    analytics_batch_max: int = 500  # most ledger entries in one insert
    analytics_batch_seconds: float = 1.0  # longest an entry waits for its batch to fill
    clickhouse_fault_file: str = ""  # for tests: inserts fail while this file exists (ClickHouse "down")
    # Its probes (domain/probes.py): /ready once every feed is at most this many messages behind
    # (lag plus buffered); /livez fails when a feed behind has not moved for this long while
    # ClickHouse and the broker answer.
    analytics_ready_lag: int = Field(10_000, ge=0)
    analytics_stall_s: float = Field(120.0, gt=0)

    # Notifier (webhooks for alerts)
    notifier_host: str = "127.0.0.1"
    notifier_port: int = 6070
    webhook_timeout_s: float = 10.0  # one POST to a receiver
    webhook_backoff_base_s: float = 0.5  # wait after the first failed attempt, doubling ...
    webhook_backoff_max_s: float = 60.0  # ... up to this
    webhook_max_attempts: int = 12  # then the delivery is dead-lettered
    webhook_concurrency: int = 4  # deliveries in flight per webhook
    webhook_breaker_failures: int = Field(5, ge=1)  # consecutive failed POSTs that open a webhook's circuit ...
    webhook_breaker_cool_off_s: float = Field(30.0, gt=0)  # ... for this long, then one probe
    webhook_max_pending: int = Field(1000, ge=1)  # unfinished deliveries one webhook holds in memory; beyond, they wait on the topic
    webhook_degraded_backlog: int = Field(100, ge=1)  # notifier /health says degraded when a webhook has this many pending ...
    webhook_degraded_age_s: float = Field(60.0, gt=0)  # ... or its oldest pending delivery is this old
    # Its probes (domain/probes.py): /ready once its alerts consumer is assigned and at most this many
    # messages behind; /livez fails when its event loop does not answer, its consumer loop has not
    # turned, or it is behind and has not moved, for this long.
    notifier_ready_lag: int = Field(1_000, ge=0)
    notifier_stall_s: float = Field(120.0, gt=0)

    # Access (docs/access.md): API keys exchanged for short-lived EdDSA JWTs, store-scoped roles
    auth_required: bool = True  # false only for a benchmark's with/without comparison and local experiments
    auth_dir: Path | None = None  # signing keys, the admin key, the secrets key (mode 0600); None = data_dir/auth
    auth_issuer: str = "bazaar-inventory"
    auth_audience: str = "bazaar-api"
    access_token_ttl_s: int = Field(900, ge=30, le=86_400)  # an access token's life (15 minutes)
    pairing_code_ttl_s: int = Field(600, ge=30, le=86_400)  # a device pairing code's life (10 minutes)
    rate_limits: dict[str, tuple[float, int]] = Field(default_factory=dict)  # role -> (per second, burst), over the defaults
    auth_rate_per_address: tuple[float, int] = (2.0, 20)  # token exchange and pairing, per client address: against guessing
    webhook_allow_http: bool = False  # http:// receivers (else https only)
    webhook_allow_private: bool = False  # receivers on loopback, private or link-local addresses

    trace_events: bool = False  # log every event a worker applies (partition, offset): for debugging
    log_level: str = "INFO"
    log_json: bool = True

    @model_validator(mode="after")
    def _replicas_agree(self) -> Settings:
        if self.min_insync_replicas > self.replication_factor:
            raise ValueError(
                f"BAZAAR_MIN_INSYNC_REPLICAS={self.min_insync_replicas} exceeds BAZAAR_REPLICATION_FACTOR="
                f"{self.replication_factor}: no write could ever be acknowledged"
            )
        return self

    def to_env(self) -> dict[str, str]:
        """These settings as BAZAAR_* environment variables, for child processes."""
        out = {}
        for name, value in self.model_dump(mode="json").items():
            if value is None:
                continue  # unset stays unset (json "null" would read back as the string "null")
            out[f"BAZAAR_{name.upper()}"] = value if isinstance(value, str) else json.dumps(value)
        return out

    @property
    def events_topic(self) -> str:
        return f"{self.topic_prefix}.events.v1"

    @property
    def ledger_topic(self) -> str:
        return f"{self.topic_prefix}.ledger.v1"

    @property
    def products_topic(self) -> str:
        return f"{self.topic_prefix}.products.v1"  # compacted, key sku

    @property
    def stores_topic(self) -> str:
        return f"{self.topic_prefix}.stores.v1"  # compacted, key store_id

    @property
    def store_products_topic(self) -> str:
        return f"{self.topic_prefix}.store-products.v1"  # compacted, key "store_id|sku"

    @property
    def alerts_topic(self) -> str:
        return f"{self.topic_prefix}.alerts.v1"  # key store_id

    @property
    def alert_acks_topic(self) -> str:
        return f"{self.topic_prefix}.alert-acks.v1"  # compacted, key alert_id

    @property
    def webhooks_topic(self) -> str:
        return f"{self.topic_prefix}.webhooks.v1"  # compacted, key webhook_id (tombstone = deleted)

    @property
    def webhook_deliveries_topic(self) -> str:
        return f"{self.topic_prefix}.webhook-deliveries.v1"  # compacted, key "webhook_id|alert_id"

    @property
    def webhook_dead_letters_topic(self) -> str:
        return f"{self.topic_prefix}.webhook-dead-letters.v1"  # compacted, key "webhook_id|alert_id"

    @property
    def dead_letters_topic(self) -> str:
        return f"{self.topic_prefix}.dead-letters.v1"  # compacted, key "topic|partition|offset" (schemas/deadletters.py)

    @property
    def uncatalogued_topic(self) -> str:
        return f"{self.topic_prefix}.uncatalogued.v1"  # compacted, key "api instance|store_id" (api/uncatalogued.py)

    @property
    def credentials_topic(self) -> str:
        return f"{self.topic_prefix}.credentials.v1"  # compacted, key credential id (secrets only as hashes)

    @property
    def pairing_codes_topic(self) -> str:
        return f"{self.topic_prefix}.pairing-codes.v1"  # compacted, key sha256 of the code

    @property
    def revocations_topic(self) -> str:
        return f"{self.topic_prefix}.revocations.v1"  # compacted, key "credential|<id>" or "token|<jti>"

    @property
    def auth_path(self) -> Path:
        return self.auth_dir or self.data_dir / "auth"

    @property
    def notifier_group(self) -> str:
        return f"{self.topic_prefix}-notifier"

    @property
    def analytics_group(self) -> str:
        """The analytics process's Faust app id: its consumer group and the prefix of its own topics."""
        return f"{self.topic_prefix}-analytics"

    @property
    def group_id(self) -> str:
        """Faust app id: names the consumer group and the table changelog topics."""
        return f"{self.topic_prefix}-{self.app_id}"

    @property
    def analytics_base_url(self) -> str:
        return (self.analytics_url or f"http://{_reachable(self.analytics_bind)}:{self.analytics_port}").rstrip("/")

    @property
    def analytics_bind(self) -> str:
        """The interface the analytics web port listens on."""
        return self.analytics_host or self.worker_host

    @property
    def kafka_dir(self) -> Path:
        return self.data_dir / "kafka"

    @property
    def worker_dir(self) -> Path:
        return self.data_dir / f"worker-{self.worker_port}"


def _reachable(host: str) -> str:
    """An address to reach a port listening on ``host`` from this machine (all interfaces: loopback)."""
    return "127.0.0.1" if host in ("0.0.0.0", "::", "") else host


@lru_cache
def get_settings() -> Settings:
    from schemas.types import set_clock_skew

    settings = Settings()
    set_clock_skew(settings.clock_skew_s)  # the contract's bound on occurred_at, in every process
    return settings
