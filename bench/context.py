"""What every stage of one run shares: the plan, the temp dir, the one broker, the main data set."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from pathlib import Path

from bazaar_core.kafka.admin import ensure_topics
from bazaar_core.kafka.local import LocalKafka
from bazaar_core.kafka.topics import topic_configs, topic_specs
from bazaar_core.loadgen.generator import GenConfig
from bazaar_core.settings import Settings
from bench.children.raw_producer import produce
from bench.data import Dataset, generate, save_messages
from bench.plan import Plan
from bench.procs import StageError, free_ports, high_watermarks, run_child


@dataclass
class Context:
    plan: Plan
    root: Path  # the run's temp dir: broker data, worker data, logs, message files
    base: Settings  # the broker's settings (bootstrap, controller port, data dir)
    broker: LocalKafka
    results: dict[str, dict] = field(default_factory=dict)
    main: Dataset | None = None
    main_settings: Settings | None = None
    main_load: dict | None = None  # the raw producer's result for the main data set
    profile: bool = False  # sample the workers of the stream and scale stages with py-spy

    @property
    def log_dir(self) -> Path:
        return self.root / "logs"

    def settings(self, prefix: str, **overrides) -> Settings:
        """Settings on this run's broker with a topic prefix and app id of their own, fresh ports and data dir."""
        worker_port, api_port = free_ports(2)
        run_id = uuid.uuid4().hex[:6]
        values = {
            "data_dir": self.root / f"{prefix}-{run_id}",
            "kafka_bootstrap": self.base.kafka_bootstrap,
            "kafka_controller_port": self.base.kafka_controller_port,
            "kafka_cache_dir": self.base.kafka_cache_dir,
            "kafka_version": self.base.kafka_version,
            "topic_prefix": prefix,
            "app_id": f"app-{run_id}",
            "worker_port": worker_port,
            "api_port": api_port,
            "worker_urls": [f"http://127.0.0.1:{worker_port}"],
            "partitions": self.base.partitions,
            "log_level": self.base.log_level,
            **overrides,
        }
        return Settings(**values)

    def ensure_topics(self, settings: Settings) -> None:
        ensure_topics(settings, topic_specs(settings), topic_configs(settings))

    def preload(self, data: Dataset, settings: Settings, stage: str, measured: bool = False, part: slice = slice(None)) -> dict:
        """Write the data set's messages (or the ``part`` of them, in order, after the parts before it) to
        the settings' (fresh) events topic; fails unless every message was acked and the topic holds
        exactly the messages up to the end of this part. ``measured``: with the raw producer in its own
        process (the raw-producer stage), else from this process (no start-up cost)."""
        self.ensure_topics(settings)
        messages = data.messages[part]
        if measured:
            path = save_messages(messages, self.root / "messages" / f"{data.name}.pkl")
            result = run_child(
                "bench.children.raw_producer",
                ["--bootstrap", settings.kafka_bootstrap, "--topic", settings.events_topic, "--messages", str(path)],
                stage=stage,
                total=len(messages),
                log_dir=self.log_dir,
                unit="msgs",
                timeout=self.plan.stage_timeout_s,
            )
            path.unlink(missing_ok=True)
        else:
            result = produce(settings.kafka_bootstrap, settings.events_topic, messages, stage)
        on_topic = sum(high_watermarks(settings.kafka_bootstrap, settings.events_topic, settings.partitions).values())
        result["on_topic"] = on_topic
        expected = len(data.messages[: part.stop])
        if result["acked"] != len(messages) or on_topic != expected:
            raise StageError(f"{stage}: {result['acked']} of {len(messages)} messages acked, {on_topic} on the topic (expected {expected})")
        return result

    def main_data(self) -> tuple[Dataset, Settings]:
        """The main data set, generated and pre-loaded once (by the raw stage, or on first use)."""
        if self.main is None:
            plan = self.plan
            self.main = generate(
                "main", GenConfig(stores=plan.main_stores, events_per_store_day=plan.main_events_per_store, skus=plan.skus, seed=plan.seed)
            )
            self.main_settings = self.settings("bench-main")
            self.main_load = self.preload(self.main, self.main_settings, "raw-producer", measured=True)
        return self.main, self.main_settings
