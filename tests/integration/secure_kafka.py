"""A single-node broker that asks SASL/SCRAM and authorizes with ACLs, as a cluster in production
does (deploy/kafka/server.properties), on free ports of 127.0.0.1, for tests.

Clients and the broker itself use SCRAM-SHA-512 on the SASL_PLAINTEXT listener; the controller
listener uses PLAIN (KRaft controllers cannot check SCRAM credentials: they are stored in the
metadata the controllers serve). The broker's own user and the operator (``ops``, the super user
that runs ``kafka-acls.sh`` and ``kafka-configs.sh``) are written when the storage is formatted;
every other user is made by the commands ``bazaar kafka acls`` prints.
"""

from __future__ import annotations

import shlex
import subprocess
import time

from confluent_kafka import KafkaException
from confluent_kafka.admin import AdminClient

from bazaar_core.kafka.config import admin_config
from bazaar_core.kafka.local import LOG4J, KafkaSetupError, LocalKafka
from bazaar_core.settings import Settings

OPS_PASSWORD = "ops-secret"
BROKER_PASSWORD = "broker-secret"
CONTROLLER_PASSWORD = "controller-secret"
SCRAM = "org.apache.kafka.common.security.scram.ScramLoginModule"
PLAIN = "org.apache.kafka.common.security.plain.PlainLoginModule"
TOOLS = {"kafka-acls.sh": "kafka.admin.AclCommand", "kafka-configs.sh": "kafka.admin.ConfigCommand"}


def client(settings: Settings, user: str, password: str) -> Settings:
    """``settings`` for a client of the secured broker authenticating as ``user``."""
    return settings.model_copy(
        update={
            "kafka_security_protocol": "SASL_PLAINTEXT",
            "kafka_sasl_mechanism": "SCRAM-SHA-512",
            "kafka_sasl_username": user,
            "kafka_sasl_password": password,
        }
    )


class SecureKafka(LocalKafka):
    """``settings`` name the ports and directories (PLAINTEXT: the broker's own, not a client's)."""

    def render_server_properties(self) -> str:
        cport = self.settings.kafka_controller_port
        secured = {
            "listeners": f"SASL_PLAINTEXT://127.0.0.1:{self.port},CONTROLLER://127.0.0.1:{cport}",
            "advertised.listeners": f"SASL_PLAINTEXT://127.0.0.1:{self.port}",
            "listener.security.protocol.map": "SASL_PLAINTEXT:SASL_PLAINTEXT,CONTROLLER:SASL_PLAINTEXT",
            "inter.broker.listener.name": "SASL_PLAINTEXT",
            "sasl.enabled.mechanisms": "SCRAM-SHA-512",
            "sasl.mechanism.inter.broker.protocol": "SCRAM-SHA-512",
            "sasl.mechanism.controller.protocol": "PLAIN",
            "listener.name.controller.sasl.enabled.mechanisms": "PLAIN",
            "listener.name.sasl_plaintext.scram-sha-512.sasl.jaas.config": (
                f'{SCRAM} required username="broker" password="{BROKER_PASSWORD}";'
            ),
            "listener.name.controller.plain.sasl.jaas.config": (
                f'{PLAIN} required username="controller" password="{CONTROLLER_PASSWORD}" user_controller="{CONTROLLER_PASSWORD}";'
            ),
            "authorizer.class.name": "org.apache.kafka.metadata.authorizer.StandardAuthorizer",
            "super.users": "User:broker;User:controller;User:ops",
            "allow.everyone.if.no.acl.found": "false",
        }
        plain = dict(line.split("=", 1) for line in super().render_server_properties().splitlines())
        return "".join(f"{k}={v}\n" for k, v in {**plain, **secured}.items())

    def format(self) -> None:
        """Storage formatted with the broker's and the operator's SCRAM credentials (KIP-900)."""
        self.kafka_dir.mkdir(parents=True, exist_ok=True)
        self.server_properties.write_text(self.render_server_properties())
        self.log4j_properties.write_text(LOG4J.format(log_file=self.kafka_dir / "broker.log"))
        command = self._java(
            "kafka.tools.StorageTool",
            "format",
            "-t",
            self._cluster_id(),
            "-c",
            str(self.server_properties),
            "--add-scram",
            f"SCRAM-SHA-512=[name=broker,password={BROKER_PASSWORD}]",
            "--add-scram",
            f"SCRAM-SHA-512=[name=ops,password={OPS_PASSWORD}]",
            "--ignore-formatted",
        )
        result = subprocess.run(command, capture_output=True, text=True, stdin=subprocess.DEVNULL)
        if result.returncode != 0:
            raise KafkaSetupError(f"formatting the secured broker's storage failed:\n{result.stdout}{result.stderr}")

    @property
    def ops(self) -> Settings:
        return client(self.settings, "ops", OPS_PASSWORD)

    def wait_ready(self, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while True:
            try:
                if AdminClient(admin_config(self.ops, {"log_level": 0})).list_topics(timeout=2).brokers:
                    return
            except KafkaException:
                pass
            if self.exited is not None:
                raise KafkaSetupError(f"the secured broker exited with code {self.exited}\n{self.log_tail()}")
            if time.monotonic() > deadline:
                raise KafkaSetupError(f"the secured broker was not ready after {timeout:.0f} s\n{self.log_tail()}")
            time.sleep(0.3)

    def ops_properties(self) -> str:
        """The operator's client properties (the ``--command-config`` of the Kafka tools)."""
        path = self.kafka_dir / "ops.properties"
        path.write_text(
            "security.protocol=SASL_PLAINTEXT\nsasl.mechanism=SCRAM-SHA-512\n"
            f'sasl.jaas.config={SCRAM} required username="ops" password="{OPS_PASSWORD}";\n'
        )
        return str(path)

    def run_tool(self, line: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
        """One line that ``bazaar kafka acls`` prints, run with the Kafka tools' classes (the jars
        hold no scripts) and ``env`` for its shell variables."""
        words = shlex.split(_expand(line, env))
        return subprocess.run(
            self._java(TOOLS[words[0]], *words[1:]), capture_output=True, text=True, stdin=subprocess.DEVNULL, timeout=120
        )


def _expand(line: str, env: dict[str, str]) -> str:
    for name, value in env.items():
        line = line.replace(f"${{{name}}}", value).replace(f'"${name}"', shlex.quote(value))
    return line
