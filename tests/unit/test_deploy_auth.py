"""The Kubernetes manifests mount the auth Secrets where each process's settings look for them:
the signing-key ring in the API (signs, verifies), the workers and analytics (verify their pages'
tokens); the webhook secrets key in the API (seals) and the notifier (opens); nowhere else, and
never the admin key, which stays with the operator (docs/access.md)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from bazaar_core.auth import sealed
from bazaar_core.settings import Settings

pytestmark = pytest.mark.unit

K8S = Path(__file__).resolve().parents[2] / "deploy" / "k8s"
NEEDS = {"api": {"bazaar-signing", "bazaar-secrets-key"}, "worker": {"bazaar-signing"}, "analytics": {"bazaar-signing"}}
NEEDS["notifier"] = {"bazaar-secrets-key"}


def pod_spec(process: str) -> dict:
    [workload] = [d for d in yaml.safe_load_all((K8S / f"{process}.yaml").read_text()) if d and d["kind"] in ("Deployment", "StatefulSet")]
    return workload["spec"]["template"]["spec"]


@pytest.mark.parametrize("process", sorted(NEEDS))
def test_each_process_mounts_the_auth_secrets_it_reads_where_its_settings_look(process: str):
    spec = pod_spec(process)
    [container] = spec["containers"]
    env = {e["name"]: e.get("value") for e in container["env"]}
    settings = Settings(auth_dir=Path(env["BAZAAR_AUTH_DIR"]))
    secrets = {v["name"]: v["secret"]["secretName"] for v in spec["volumes"] if "secret" in v}
    mounted = {secrets[m["name"]]: m for m in container["volumeMounts"] if m["name"] in secrets}
    auth = {name: m for name, m in mounted.items() if name in ("bazaar-signing", "bazaar-secrets-key", "bazaar-admin-key")}
    assert set(auth) == NEEDS[process]
    for m in auth.values():
        assert m.get("readOnly") is True
    if "bazaar-signing" in auth:
        assert Path(auth["bazaar-signing"]["mountPath"]) == settings.auth_path / "signing"
    if "bazaar-secrets-key" in auth:
        m = auth["bazaar-secrets-key"]
        assert Path(m["mountPath"]) == sealed.key_file(settings.auth_path) and m["subPath"] == sealed.KEY_FILE
    # the image's user (its uid is its group) must read the Secrets' 0440 files
    uid = int(re.search(r"useradd --uid (\d+)", (K8S.parent / "Dockerfile").read_text()).group(1))
    modes = {v["secret"]["secretName"]: v["secret"].get("defaultMode") for v in spec["volumes"] if "secret" in v}
    assert all(modes[name] == 0o440 for name in auth)
    assert spec["securityContext"]["fsGroup"] == uid


def test_compose_makes_the_keys_once_before_any_process_starts():
    compose = yaml.safe_load((K8S.parent / "docker-compose.yml").read_text())
    services = compose["services"]
    assert services["auth"]["command"] == ["auth", "init"]
    assert services["auth"]["depends_on"] == {"topics": {"condition": "service_completed_successfully"}}
    for name in ("worker-1", "worker-2", "analytics", "notifier", "api"):
        service = services[name]
        assert service["depends_on"]["auth"] == {"condition": "service_completed_successfully"}, name
        assert "auth:/auth" in service["volumes"] and service["environment"]["BAZAAR_AUTH_DIR"] == "/auth", name
