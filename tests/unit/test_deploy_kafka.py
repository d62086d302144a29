"""The Kubernetes manifests give each process its own Kafka principal, the one the ACL table grants
(bazaar_core/kafka/acls.py), with its password from its own Secret and the brokers' CA mounted where
the ConfigMap says; the settings they add up to make a client config; and the broker example
(deploy/kafka/server.properties) denies what no ACL allows and makes no bazaar process a super user."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from bazaar_core.kafka.acls import PROCESSES, principal_name
from bazaar_core.kafka.config import client_config
from bazaar_core.settings import Settings

pytestmark = pytest.mark.unit

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
MANIFESTS = {"api": "api.yaml", "worker": "worker.yaml", "analytics": "analytics.yaml", "notifier": "notifier.yaml"}


def config_map() -> dict[str, str]:
    [doc] = yaml.safe_load_all((DEPLOY / "k8s" / "config.yaml").read_text())
    return doc["data"]


def pod_spec(process: str) -> dict:
    docs = yaml.safe_load_all((DEPLOY / "k8s" / MANIFESTS[process]).read_text())
    [workload] = [d for d in docs if d and d["kind"] in ("Deployment", "StatefulSet")]
    return workload["spec"]["template"]["spec"]


def env_of(container: dict) -> dict[str, dict]:
    return {e["name"]: e for e in container.get("env", [])}


@pytest.mark.parametrize("process", list(MANIFESTS))
def test_each_process_has_its_own_principal_password_and_the_brokers_ca(process: str):
    data = config_map()
    settings = Settings(**{k.removeprefix("BAZAAR_").lower(): v for k, v in data.items() if k.startswith("BAZAAR_KAFKA_")})
    spec = pod_spec(process)
    [container] = spec["containers"]
    env = env_of(container)
    assert env["BAZAAR_KAFKA_SASL_USERNAME"]["value"] == principal_name(settings, process)
    secret = env["BAZAAR_KAFKA_SASL_PASSWORD"]["valueFrom"]["secretKeyRef"]
    assert secret == {"name": f"bazaar-kafka-{process}", "key": "password"}
    ca = Path(data["BAZAAR_KAFKA_SSL_CA_FILE"])
    mounts = {m["name"]: m["mountPath"] for m in container["volumeMounts"]}
    volumes = {v["name"]: v for v in spec["volumes"]}
    assert mounts["kafka-ca"] == str(ca.parent) and volumes["kafka-ca"]["secret"]["secretName"] == "bazaar-kafka-ca"
    # what the pod's settings add up to (the password stands in for the Secret's)
    conf = client_config(
        settings.model_copy(update={"kafka_sasl_username": env["BAZAAR_KAFKA_SASL_USERNAME"]["value"], "kafka_sasl_password": "x"})
    )
    assert conf["security.protocol"] == "sasl_ssl" and conf["sasl.mechanism"] == "SCRAM-SHA-512"
    assert conf["ssl.ca.location"] == str(ca)


def test_no_two_processes_share_a_principal_or_a_secret():
    users = [env_of(pod_spec(p)["containers"][0])["BAZAAR_KAFKA_SASL_USERNAME"]["value"] for p in MANIFESTS]
    assert len(set(users)) == len(users) == len(PROCESSES) - 1  # the admin is the operator's, not a pod's


def properties(path: Path) -> dict[str, str]:
    text = re.sub(r"\\\n\s*", "", path.read_text())  # continued lines
    return dict(line.split("=", 1) for line in text.splitlines() if line.strip() and not line.startswith("#"))


def test_the_broker_example_denies_what_no_acl_allows():
    props = properties(DEPLOY / "kafka" / "server.properties")
    assert props["authorizer.class.name"] == "org.apache.kafka.metadata.authorizer.StandardAuthorizer"
    assert props["allow.everyone.if.no.acl.found"] == "false"
    supers = props["super.users"].split(";")
    assert not {f"User:{principal_name(Settings(), p)}" for p in PROCESSES} & set(supers)
    protocols = dict(pair.split(":") for pair in props["listener.security.protocol.map"].split(","))
    assert set(protocols.values()) == {"SASL_SSL"}  # nothing in clear, nothing unauthenticated
    assert props["sasl.enabled.mechanisms"] == Settings().kafka_sasl_mechanism == config_map()["BAZAAR_KAFKA_SASL_MECHANISM"]
    assert "PLAINTEXT" not in props["listeners"]
