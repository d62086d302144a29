"""The Kafka ACL table (bazaar_core/kafka/acls.py) is the code's: every topic a process's code names
is one its principal may use and the reverse, every follower and consumer group it makes is granted,
no topic is left without a reader and a writer, and the rules that matter hold (the API cannot write
the ledger, workers cannot read credentials or webhooks, only the admin creates topics)."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest

from bazaar_core.kafka.acls import ADMIN, ANALYTICS, API, NOTIFIER, PROCESSES, WORKER, Access, access_table, acl_commands, acls
from bazaar_core.kafka.topics import stock_changelog, topic_specs
from bazaar_core.settings import Settings

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[2]
SETTINGS = Settings(kafka_bootstrap="127.0.0.1:1", topic_prefix="shop", app_id="inv")
S = SETTINGS
TABLE = access_table(SETTINGS)
TOPIC_PROPERTIES = {name for name in dir(Settings) if name.endswith("_topic") and isinstance(getattr(Settings, name), property)}

# The code of each process: where it names the topics it uses.
CODE: dict[str, list[str]] = {
    API: ["api", "bazaar/run_api.py"],
    WORKER: ["streams", "agents/stock.py", "bazaar/run_worker.py", "bazaar_core/kafka/catalog_topics.py"],
    ANALYTICS: ["clickhouse", "agents/analytics.py", "bazaar/run_analytics.py"],
    NOTIFIER: ["bazaar_core/notifier", "bazaar/run_notifier.py"],
    ADMIN: ["bazaar/dlq_cmd.py", "bazaar/topics_cmd.py", "bazaar/auth_cmd.py", "api/auth_view.py", "bazaar_core/kafka/deadletters.py"],
}


def named_topics(process: str) -> set[str]:
    """Topics the process's code names (``settings.<x>_topic``)."""
    files: list[Path] = []
    for entry in CODE[process]:
        path = ROOT / entry
        files.extend(sorted(path.rglob("*.py")) if path.is_dir() else [path])
    names: set[str] = set()
    for path in files:
        names.update(n for n in re.findall(r"\.(\w+_topic)\b", path.read_text()) if n in TOPIC_PROPERTIES)
    return {getattr(SETTINGS, n) for n in names}


def used(access: Access) -> set[str]:
    return set(access.reads | access.writes)


@pytest.mark.parametrize("process", [API, WORKER, ANALYTICS, NOTIFIER])
def test_a_process_may_use_exactly_the_topics_its_code_names(process: str):
    assert named_topics(process) == used(TABLE[process])


def test_the_admin_may_use_what_its_commands_name_and_write_back_what_was_dead_lettered():
    admin = TABLE[ADMIN]
    assert named_topics(ADMIN) <= used(admin)
    # `bazaar dlq replay` puts a message back where its consumer read it: the worker's events, the
    # analytics feeds (ledger and catalog), the notifier's alerts
    sources = {S.events_topic} | TABLE[ANALYTICS].reads | {S.alerts_topic}
    assert sources <= admin.writes
    assert admin.creates == set(topic_specs(SETTINGS))


def test_every_topic_has_a_writer_and_a_reader():
    processes = [a for p, a in TABLE.items() if p != ADMIN]
    for topic in topic_specs(SETTINGS):
        owned = [a for a in processes if any(topic.startswith(prefix) for prefix in a.own_topic_prefixes)]
        writers = [a for a in processes if topic in a.writes] + owned
        readers = [a for a in TABLE.values() if topic in a.reads] + owned
        assert writers and readers, topic
    assert any(stock_changelog(SETTINGS).startswith(p) for p in TABLE[WORKER].own_topic_prefixes)


def test_the_rules_that_matter():
    api, worker, analytics, notifier = (TABLE[p] for p in (API, WORKER, ANALYTICS, NOTIFIER))
    secrets = {S.credentials_topic, S.pairing_codes_topic, S.revocations_topic, S.webhooks_topic}
    assert S.ledger_topic not in api.writes and S.alerts_topic not in api.writes  # only a worker's agent says what stock did
    assert not {S.events_topic, S.ledger_topic} & api.reads
    assert not secrets & (worker.reads | analytics.reads)  # no worker sees a credential or a webhook's secret
    assert not secrets & notifier.reads - {S.webhooks_topic}  # the notifier reads the webhooks (sealed), no key
    assert S.events_topic not in worker.writes | analytics.writes | notifier.writes  # only the API (and a replay) writes events
    assert analytics.writes == {S.dead_letters_topic}
    assert [p for p, a in TABLE.items() if a.creates] == [ADMIN]
    assert set(TABLE) == set(PROCESSES)


def test_every_follower_of_the_api_and_the_admin_is_granted():
    from api.auth_view import AuthView
    from api.producer import EventProducer
    from api.services import Services

    api, admin = TABLE[API], TABLE[ADMIN]
    followers = Services.create(SETTINGS).followers.values()
    assert {f.group_prefix for f in followers} == api.group_prefixes
    for follower in followers:
        assert set(follower.topics) <= api.reads, follower.name
    assert EventProducer(SETTINGS).topic in api.writes
    auth = AuthView(SETTINGS).follower  # what `bazaar auth` reads
    assert auth.group_prefix in admin.group_prefixes and set(auth.topics) <= admin.reads


def test_the_workers_groups_and_followers_are_granted():
    from bazaar_core.kafka.groups import gapfill_group_prefix
    from streams.catalog import CatalogCache

    worker, analytics = TABLE[WORKER], TABLE[ANALYTICS]
    cache = CatalogCache(SETTINGS).follower
    assert set(cache.topics) <= worker.reads and cache.group_prefix in worker.group_prefixes
    assert S.group_id in worker.groups and S.analytics_group in analytics.groups
    assert gapfill_group_prefix(SETTINGS) in worker.group_prefixes & analytics.group_prefixes


def test_the_notifiers_followers_and_readers_are_granted(monkeypatch: pytest.MonkeyPatch):
    from bazaar_core.notifier import service

    notifier = TABLE[NOTIFIER]
    n = service.Notifier(SETTINGS)
    for follower in (n.hook_follower, n.outcome_follower):
        assert set(follower.topics) <= notifier.reads and follower.group_prefix in notifier.group_prefixes
    made: list[dict] = []
    monkeypatch.setattr(service, "Consumer", lambda conf: made.append(conf))
    n._park_reader()
    assert any(made[0]["group.id"].startswith(p) for p in notifier.group_prefixes)
    assert S.notifier_group in notifier.groups


def test_the_commands_carry_each_principal_and_exactly_its_acls():
    lines = acl_commands(SETTINGS, principal_prefix="User:CN=")
    for process, access in TABLE.items():
        principal = f"User:CN=shop-{process}"
        mine = [shlex.split(line) for line in lines if line.startswith("kafka-acls.sh") and principal in line]
        assert len(mine) == len(acls(access)), process
        granted = {
            (op, words[i + 1], "prefixed" in words)
            for words in mine
            for op in [words[j + 1] for j, w in enumerate(words) if w == "--operation"]
            for i, w in enumerate(words)
            if w in ("--topic", "--group")
        }
        if process == WORKER:
            assert ("Read", S.events_topic, False) in granted and ("Read", S.group_id, False) in granted
        assert {t for op, t, _ in granted if op == "Write"} >= set(access.writes)
        assert {t for op, t, _ in granted if op == "Read"} >= set(access.reads | access.groups)
        scram = [line for line in lines if line.startswith("kafka-configs.sh") and f"--entity-name shop-{process}" in line]
        assert len(scram) == 1 and "SCRAM-SHA-512=[" in scram[0]
    api_writes = next(line for line in lines if "User:CN=shop-api" in line and "--operation Write" in line)
    assert S.ledger_topic not in api_writes.split()
