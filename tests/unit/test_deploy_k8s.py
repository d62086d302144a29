"""The Kubernetes manifests as kubectl would apply them: deploy/k8s and deploy/k8s-keda rendered by
kustomize (the version ./bazaar.sh setup builds), every object valid against the JSON schemas of a
current Kubernetes release (kubernetes-validate ships them; strict: an unknown field is an error),
and the rules the schemas cannot say: probes, requests and memory limits on every container, a
disruption budget for every workload, autoscalers that target what exists and never ask for more
workers than partitions, network policies that select real pods and let through only what
docs/deploy.md says. KEDA's objects are custom resources: the rules check them."""

from __future__ import annotations

import copy
import ipaddress
import os
import re
import subprocess
from functools import cache
from pathlib import Path
from unittest import mock

import kubernetes_validate
import pytest
import yaml

from bazaar_core.settings import Settings

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[2]
BASE, KEDA = ROOT / "deploy" / "k8s", ROOT / "deploy" / "k8s-keda"
K8S_VERSION = "1.37"  # the newest release kubernetes-validate ships schemas for
NAMESPACE = "bazaar"
WORKLOADS = ("Deployment", "StatefulSet")


def kustomize() -> str:
    if os.environ.get("BAZAAR_KUSTOMIZE"):
        return os.environ["BAZAAR_KUSTOMIZE"]
    version = re.search(r"^KUSTOMIZE_VERSION=(\S+)", (ROOT / "bazaar.sh").read_text(), re.M).group(1)
    cache_home = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return str(cache_home / "bazaar" / f"kustomize-{version}" / "kustomize")


@cache
def render(directory: Path) -> tuple[dict, ...]:
    binary = kustomize()
    if not Path(binary).is_file():
        pytest.fail(f"kustomize is not built at {binary}: run ./bazaar.sh setup (it needs Go)")
    out = subprocess.run([binary, "build", str(directory)], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    return tuple(d for d in yaml.safe_load_all(out.stdout) if d)


def of_kind(docs, *kinds: str) -> list[dict]:
    return [d for d in docs if d["kind"] in kinds]


def named(docs, kind: str, name: str) -> dict:
    [doc] = [d for d in docs if d["kind"] == kind and d["metadata"]["name"] == name]
    return doc


def pods(docs) -> dict[str, dict]:
    """Each workload's pod labels, by its name."""
    return {w["metadata"]["name"]: w["spec"]["template"]["metadata"]["labels"] for w in of_kind(docs, *WORKLOADS)}


def config(docs) -> dict[str, str]:
    return named(docs, "ConfigMap", "bazaar")["data"]


def settings_of(data: dict[str, str]) -> Settings:
    """The settings a pod with this ConfigMap in its environment reads (and nothing else of ours)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("BAZAAR_")}
    with mock.patch.dict(os.environ, {**env, **data}, clear=True):
        return Settings()


def matches(selector: dict | None, labels: dict[str, str]) -> bool:
    assert not (selector or {}).get("matchExpressions"), "matchExpressions: teach matches() them"
    return all(labels.get(k) == v for k, v in (selector or {}).get("matchLabels", {}).items())


# ---- the schemas ------------------------------------------------------------------------------


@pytest.mark.parametrize("directory", [BASE, KEDA], ids=["k8s", "k8s-keda"])
def test_every_object_is_valid_against_the_kubernetes_schemas(directory: Path):
    docs = render(directory)
    core = [d for d in docs if not d["apiVersion"].startswith("keda.sh/")]
    assert len(core) >= 20 and len(core) == len(docs) - (2 if directory == KEDA else 0)
    errors = []
    for doc in core:
        assert doc["metadata"].get("namespace", NAMESPACE) == NAMESPACE
        try:
            kubernetes_validate.validate(doc, K8S_VERSION, strict=True)
        except kubernetes_validate.ValidationError as exc:
            errors.append(f"{doc['kind']}/{doc['metadata']['name']}: {'.'.join(map(str, exc.path))}: {exc.message}")
    assert not errors, "\n".join(errors)


def test_the_schemas_refuse_a_mistyped_field_and_a_wrong_type():
    api = named(render(BASE), "Deployment", "bazaar-api")
    kubernetes_validate.validate(api, K8S_VERSION, strict=True)
    typo = copy.deepcopy(api)
    typo["spec"]["template"]["spec"]["containers"][0]["readinessProbe"]["periodSecond"] = 5
    wrong = copy.deepcopy(api)
    wrong["spec"]["template"]["spec"]["containers"][0]["ports"][0]["containerPort"] = "http"
    for bad in (typo, wrong):
        with pytest.raises(kubernetes_validate.ValidationError):
            kubernetes_validate.validate(bad, K8S_VERSION, strict=True)


# ---- containers ---------------------------------------------------------------------------------


@pytest.mark.parametrize("directory", [BASE, KEDA], ids=["k8s", "k8s-keda"])
def test_every_container_has_probes_requests_and_a_memory_limit(directory: Path):
    for workload in of_kind(render(directory), *WORKLOADS):
        for c in workload["spec"]["template"]["spec"]["containers"]:
            where = f"{workload['metadata']['name']}/{c['name']}"
            assert "readinessProbe" in c and "livenessProbe" in c, where
            ports = {p["name"] for p in c["ports"]}
            for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
                if probe in c:
                    action = c[probe].get("httpGet") or c[probe]["tcpSocket"]
                    assert action["port"] in ports, where
            resources = c["resources"]
            assert {"cpu", "memory"} <= set(resources["requests"]) and "memory" in resources["limits"], where


def test_probes_ask_the_pages_each_process_serves():
    docs = render(BASE)
    probes = {w["metadata"]["name"]: w["spec"]["template"]["spec"]["containers"][0] for w in of_kind(docs, *WORKLOADS)}
    # readiness means caught up: /health where it says so (the API's views, the worker's tables),
    # /ready where /health says serving (analytics, the notifier: docs/deploy.md, "Probes")
    ready = {"bazaar-api": "/health", "bazaar-worker": "/health", "bazaar-analytics": "/ready", "bazaar-notifier": "/ready"}
    for name, path in ready.items():
        assert probes[name]["readinessProbe"]["httpGet"]["path"] == path, name
    for name in ready:  # liveness means not stuck, a page every process serves (no TCP-only probe)
        assert probes[name]["livenessProbe"]["httpGet"]["path"] == "/livez", name
        assert "tcpSocket" not in probes[name].get("startupProbe", {}), name
    # and each page asked is one its process serves without a token (probes carry none)
    from api.authz import PUBLIC
    from api.routes import health
    from clickhouse import web as analytics_web
    from streams import web as worker_web

    public = {
        "bazaar-api": {r.path for r in health.router.routes if PUBLIC in r.dependencies},
        "bazaar-worker": {p for p, page in worker_web.PAGES.items() if page.permission is None},
        "bazaar-analytics": {p for p, page in analytics_web.PAGES.items() if page.permission is None},
        "bazaar-notifier": set(re.findall(r'self\.path == "([^"]+)"', (ROOT / "bazaar" / "run_notifier.py").read_text())),
    }
    for name, container in probes.items():
        asked = {
            container[p]["httpGet"]["path"]
            for p in ("startupProbe", "readinessProbe", "livenessProbe")
            if "httpGet" in container.get(p, {})
        }
        assert asked <= public[name], (name, asked - public[name])


def test_each_process_listens_on_every_interface_at_its_own_port():
    docs = render(BASE)
    defaults = Settings()
    wanted = {
        "bazaar-worker": ("BAZAAR_WORKER_HOST", defaults.worker_port),
        "bazaar-analytics": ("BAZAAR_ANALYTICS_HOST", defaults.analytics_port),
        "bazaar-notifier": ("BAZAAR_NOTIFIER_HOST", defaults.notifier_port),
    }
    for name, (variable, port) in wanted.items():
        [c] = named(docs, *("StatefulSet" if name != "bazaar-notifier" else "Deployment", name))["spec"]["template"]["spec"]["containers"]
        env = {e["name"]: e.get("value") for e in c["env"]}
        assert env[variable] == "0.0.0.0", name  # 127.0.0.1 by default: unreachable from its peers
        assert [p["containerPort"] for p in c["ports"]] == [port], name
    [api] = named(docs, "Deployment", "bazaar-api")["spec"]["template"]["spec"]["containers"]
    assert api["args"][api["args"].index("--host") + 1] == "0.0.0.0"
    assert [p["containerPort"] for p in api["ports"]] == [defaults.api_port]


def test_the_config_map_holds_only_settings_and_replicates_every_topic():
    data = config(render(BASE))
    fields = {f"BAZAAR_{name.upper()}" for name in Settings.model_fields}
    assert set(data) <= fields, f"not settings: {sorted(set(data) - fields)}"
    assert data["BAZAAR_REPLICATION_FACTOR"] == "3" and data["BAZAAR_MIN_INSYNC_REPLICAS"] == "2"
    settings = settings_of(data)
    assert settings.min_insync_replicas < settings.replication_factor  # a broker may be lost and writes go on


# ---- workloads: budgets, autoscalers, services -------------------------------------------------


@pytest.mark.parametrize("directory", [BASE, KEDA], ids=["k8s", "k8s-keda"])
def test_every_workload_has_one_disruption_budget_that_lets_a_drain_through(directory: Path):
    docs = render(directory)
    budgets = of_kind(docs, "PodDisruptionBudget")
    for name, labels in pods(docs).items():
        mine = [b for b in budgets if matches(b["spec"]["selector"], labels)]
        assert len(mine) == 1, name
        spec = mine[0]["spec"]
        assert spec.get("maxUnavailable", 0) >= 1 or spec["minAvailable"] < 2, name  # never zero disruptions
    assert len(budgets) == len(pods(docs))


def test_the_api_autoscales_on_cpu_and_owns_its_replica_count():
    docs = render(BASE)
    [hpa] = of_kind(docs, "HorizontalPodAutoscaler")
    ref = hpa["spec"]["scaleTargetRef"]
    target = named(docs, ref["kind"], ref["name"])
    assert ref["apiVersion"] == target["apiVersion"] and ref["name"] == "bazaar-api"
    assert "replicas" not in target["spec"]  # an apply would reset what the autoscaler chose
    assert 2 <= hpa["spec"]["minReplicas"] <= hpa["spec"]["maxReplicas"]
    [metric] = hpa["spec"]["metrics"]
    assert metric["resource"]["name"] == "cpu"
    assert all("cpu" in c["resources"]["requests"] for c in target["spec"]["template"]["spec"]["containers"])


def test_keda_scales_the_workers_on_their_lag_never_past_the_partitions():
    docs = render(KEDA)
    settings = settings_of(config(docs))
    [scaled] = of_kind(docs, "ScaledObject")
    spec = scaled["spec"]
    ref = spec["scaleTargetRef"]
    worker = named(docs, ref["kind"], ref["name"])
    assert ref["apiVersion"] == worker["apiVersion"] and ref["name"] == "bazaar-worker"
    assert "replicas" not in worker["spec"]
    assert 1 <= spec["minReplicaCount"] <= spec["maxReplicaCount"] <= settings.partitions
    [lag] = [t for t in spec["triggers"] if t["type"] == "kafka"]
    meta = lag["metadata"]
    assert meta["topic"] == settings.events_topic and meta["consumerGroup"] == settings.group_id
    assert meta["bootstrapServers"] == settings.kafka_bootstrap
    assert meta["allowIdleConsumers"] == "false" and int(meta["lagThreshold"]) > 0
    assert (meta["sasl"], meta["tls"]) == ("scram_sha512", "enable") and settings.kafka_security_protocol == "SASL_SSL"
    assert settings.kafka_sasl_mechanism == "SCRAM-SHA-512"
    auth = named(docs, "TriggerAuthentication", lag["authenticationRef"]["name"])
    pod = worker["spec"]["template"]["spec"]
    [env] = auth["spec"]["env"]
    [container] = [c for c in pod["containers"] if c["name"] == env["containerName"]]
    assert any(e["name"] == env["name"] and e.get("value") for e in container["env"])
    used = {e["valueFrom"]["secretKeyRef"]["name"] for e in container["env"] if "secretKeyRef" in e.get("valueFrom", {})}
    used |= {v["secret"]["secretName"] for v in pod["volumes"] if "secret" in v}
    assert {s["name"] for s in auth["spec"]["secretTargetRef"]} <= used  # the worker's own principal and CA
    # the alert that says the workers can grow no more watches the autoscaler KEDA makes
    rules = yaml.safe_load((ROOT / "deploy" / "prometheus" / "rules.yml").read_text())
    [cap] = [r for g in rules["groups"] for r in g["rules"] if r["alert"] == "BazaarWorkersAtPartitionCap"]
    assert set(re.findall(r'horizontalpodautoscaler="([^"]+)"', cap["expr"])) == {f"keda-hpa-{scaled['metadata']['name']}"}


@pytest.mark.parametrize("directory", [BASE, KEDA], ids=["k8s", "k8s-keda"])
def test_services_select_pods_on_ports_they_expose(directory: Path):
    docs = render(directory)
    containers = {
        name: [p for c in w["spec"]["template"]["spec"]["containers"] for p in c["ports"]]
        for name, w in ((w["metadata"]["name"], w) for w in of_kind(docs, *WORKLOADS))
    }
    for svc in of_kind(docs, "Service"):
        [name] = [n for n, labels in pods(docs).items() if all(labels.get(k) == v for k, v in svc["spec"]["selector"].items())]
        for port in svc["spec"]["ports"]:
            target = port.get("targetPort", port["port"])
            assert any(target in (p["containerPort"], p["name"]) for p in containers[name]), svc["metadata"]["name"]
    worker_svc = named(docs, "Service", "bazaar-worker")
    assert worker_svc["spec"]["clusterIP"] == "None" and worker_svc["spec"]["publishNotReadyAddresses"] is True


# ---- network policies ---------------------------------------------------------------------------


class Peer:
    """A pod (or an address outside the cluster) as a NetworkPolicy sees it."""

    def __init__(self, namespace: str | None, labels: dict[str, str] | None = None, ip: str = "10.1.2.3") -> None:
        self.namespace, self.labels, self.ip = namespace, labels or {}, ipaddress.ip_address(ip)

    def selected_by(self, peer: dict, policy_namespace: str) -> bool:
        if "ipBlock" in peer:
            block = peer["ipBlock"]
            nets = [ipaddress.ip_network(c) for c in block.get("except", [])]
            return self.ip in ipaddress.ip_network(block["cidr"]) and not any(self.ip in n for n in nets)
        if self.namespace is None:  # an address outside the cluster: only ipBlocks select it
            return False
        if "namespaceSelector" in peer:
            if not matches(peer["namespaceSelector"], {"kubernetes.io/metadata.name": self.namespace}):
                return False
        elif self.namespace != policy_namespace:
            return False
        return matches(peer.get("podSelector"), self.labels)


def _allowed(policies: list[dict], pod: Peer, other: Peer, port: int, protocol: str, direction: str) -> bool:
    """Whether ``pod``'s policies let ``other`` in (Ingress) or let ``pod`` reach ``other`` (Egress)."""
    side = "from" if direction == "Ingress" else "to"
    mine = [p for p in policies if direction in p["spec"]["policyTypes"] and matches(p["spec"]["podSelector"], pod.labels)]
    if not mine:
        return True  # not isolated
    for policy in mine:
        for rule in policy["spec"].get(direction.lower(), []):
            ports = rule.get("ports")
            if ports and not any(p["port"] == port and p.get("protocol", "TCP") == protocol for p in ports):
                continue
            peers = rule.get(side)
            if not peers or any(other.selected_by(peer, NAMESPACE) for peer in peers):
                return True
    return False


def reaches(policies: list[dict], source: Peer, dest: Peer, port: int, protocol: str = "TCP") -> bool:
    """Egress from the source (when it is one of ours) and ingress to the destination (likewise)."""
    out = source.namespace != NAMESPACE or _allowed(policies, source, dest, port, protocol, "Egress")
    return out and (dest.namespace != NAMESPACE or _allowed(policies, dest, source, port, protocol, "Ingress"))


def test_network_policies_select_existing_pods():
    docs = render(BASE)
    labels = list(pods(docs).values())
    for policy in of_kind(docs, "NetworkPolicy"):
        spec = policy["spec"]
        assert not spec["podSelector"] or any(matches(spec["podSelector"], lab) for lab in labels), policy["metadata"]["name"]
        for rule in spec.get("ingress", []) + spec.get("egress", []):
            for peer in rule.get("from", []) + rule.get("to", []):
                if "podSelector" in peer and "namespaceSelector" not in peer:
                    assert any(matches(peer["podSelector"], lab) for lab in labels), policy["metadata"]["name"]


def test_only_the_api_is_reachable_from_outside_and_each_port_from_whom_it_serves():
    docs = render(BASE)
    policies = of_kind(docs, "NetworkPolicy")
    ours = {name.removeprefix("bazaar-"): Peer(NAMESPACE, labels) for name, labels in pods(docs).items()}
    ports = {"api": 8000, "worker": 6066, "analytics": 6068, "notifier": 6070}
    outsiders = {
        "prometheus": Peer("monitoring", {"app.kubernetes.io/name": "prometheus"}),
        "another monitoring pod": Peer("monitoring", {"app": "grafana"}),
        "a pod of another namespace": Peer("shops", {"app": "bazaar-api"}),
        "the internet": Peer(None, ip="203.0.113.7"),
    }
    allowed = {
        "api": {"prometheus", "another monitoring pod", "a pod of another namespace", "the internet"},
        "worker": {"prometheus", "api", "worker"},
        "analytics": {"prometheus", "api"},
        "notifier": {"prometheus"},
    }
    for dest, port in ports.items():
        for name, source in {**outsiders, **ours}.items():
            assert reaches(policies, source, ours[dest], port) == (name in allowed[dest]), (name, dest)


def test_egress_goes_to_dns_and_kafka_and_the_notifier_alone_to_public_webhooks():
    docs = render(BASE)
    policies = of_kind(docs, "NetworkPolicy")
    ours = {name.removeprefix("bazaar-"): Peer(NAMESPACE, labels) for name, labels in pods(docs).items()}
    dns = Peer("kube-system", {"k8s-app": "kube-dns"})
    broker = Peer("kafka", {"strimzi.io/kind": "Kafka"})
    clickhouse = Peer("clickhouse", {"app": "clickhouse"})
    bootstrap_port = int(config(docs)["BAZAAR_KAFKA_BOOTSTRAP"].rsplit(":", 1)[1])
    for name, pod in ours.items():
        assert reaches(policies, pod, dns, 53, "UDP") and reaches(policies, pod, dns, 53, "TCP"), name
        assert reaches(policies, pod, broker, bootstrap_port), name
        assert reaches(policies, pod, clickhouse, 8123) == (name == "analytics"), name
        for ip, port in (("203.0.113.7", 443), ("2001:db8::7", 8443), ("198.51.100.9", 80)):
            assert reaches(policies, pod, Peer(None, ip=ip), port) == (name == "notifier"), (name, ip)
        for ip in ("10.0.0.5", "169.254.169.254", "172.20.1.1", "192.168.1.1", "100.64.0.1", "127.0.0.1", "fd00::1"):
            assert not reaches(policies, pod, Peer(None, ip=ip), 443), (name, ip)
