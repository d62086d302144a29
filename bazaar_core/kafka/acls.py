"""Who may do what on a secured Kafka cluster: each process's principal, and exactly the topics and
consumer groups it reads and writes (docs/deploy.md, ``bazaar kafka acls``).

Read from the code (tests/unit/test_kafka_acls.py holds the table to it):

* ``api``: writes the events topic (ingest) and the catalog, acks, webhooks, webhook dead letters
  (a retry), uncatalogued totals and the auth topics (credentials, pairing codes, revocations); its
  views follow all of those but the events, plus the alerts. It never reads events or the ledger.
* ``worker``: reads the events and the catalog; writes the ledger, alerts, dead letters and its
  stock table's changelog. Faust's own topics (the changelog, the ``__assignor-__leader`` topic) are
  named after its app id, which it may create. It never sees webhooks or credentials.
* ``analytics``: reads the ledger and the catalog; writes only dead letters (and Faust's own topic).
* ``notifier``: reads alerts and webhooks (secrets sealed, the key outside Kafka); reads and writes
  deliveries and webhook dead letters; writes dead letters.
* ``admin`` (the ``bazaar`` command of an operator): creates every topic (``bazaar topics``); reads,
  drops and replays dead letters (``bazaar dlq``: a replay writes a message back to the topic it
  came from: events, ledger, catalog or alerts); manages keys (``bazaar auth``: credentials,
  revocations). No process but the admin may create a topic.

A read grants ``Read`` (which implies ``Describe``), a write ``Write``. Consumer groups that commit
have fixed names; the readers that only assign partitions and never commit take a fresh name per run
under a prefix (``bazaar_core.kafka.groups``), granted as a prefixed ACL. Idempotent producers need
no cluster permission beyond ``Write`` on a topic (Kafka 3.x, KIP-679).
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass, field

from bazaar_core.kafka.groups import dlq_reader_group, follower_group_prefix, gapfill_group_prefix, parked_group_prefix
from bazaar_core.kafka.topics import topic_specs
from bazaar_core.settings import Settings

API, WORKER, ANALYTICS, NOTIFIER, ADMIN = "api", "worker", "analytics", "notifier", "admin"
PROCESSES = (API, WORKER, ANALYTICS, NOTIFIER, ADMIN)


@dataclass(frozen=True)
class Access:
    reads: frozenset[str] = frozenset()  # topics
    writes: frozenset[str] = frozenset()
    creates: frozenset[str] = frozenset()
    groups: frozenset[str] = frozenset()  # consumer groups it joins or commits in
    group_prefixes: frozenset[str] = frozenset()  # its readers' groups, a fresh name per run under these
    own_topic_prefixes: frozenset[str] = frozenset()  # Faust's topics of its app id: create, read, write


@dataclass(frozen=True)
class Acl:
    operations: tuple[str, ...]  # Kafka's names: Read, Write, Create
    resource: str  # "topic" or "group"
    names: tuple[str, ...]
    prefixed: bool = False
    why: str = field(default="", compare=False)


def principal_name(settings: Settings, process: str) -> str:
    """The SASL username (or certificate CN) of a process: ``<topic prefix>-<process>``."""
    return f"{settings.topic_prefix}-{process}"


def access_table(settings: Settings) -> dict[str, Access]:
    s = settings
    catalog = {s.products_topic, s.stores_topic, s.store_products_topic}
    auth = {s.credentials_topic, s.pairing_codes_topic, s.revocations_topic}
    api_views = {s.alert_acks_topic, s.webhooks_topic, s.webhook_dead_letters_topic, s.uncatalogued_topic}
    webhook_outcomes = {s.webhook_deliveries_topic, s.webhook_dead_letters_topic}

    def follow(*names: str) -> set[str]:
        return {follower_group_prefix(s, n) for n in names}

    table = {
        API: Access(
            reads=_set(catalog | api_views | auth | {s.alerts_topic}),
            writes=_set(catalog | api_views | auth | {s.events_topic}),
            group_prefixes=_set(follow("catalog", "alerts", "webhooks", "uncatalogued", "auth")),
        ),
        WORKER: Access(
            reads=_set(catalog | {s.events_topic}),
            writes=_set({s.ledger_topic, s.alerts_topic, s.dead_letters_topic}),
            groups=_set({s.group_id}),
            group_prefixes=_set(follow("worker-catalog") | {gapfill_group_prefix(s)}),
            own_topic_prefixes=_set({f"{s.group_id}-"}),
        ),
        ANALYTICS: Access(
            reads=_set(catalog | {s.ledger_topic}),
            writes=_set({s.dead_letters_topic}),
            groups=_set({s.analytics_group}),
            group_prefixes=_set({gapfill_group_prefix(s)}),
            own_topic_prefixes=_set({f"{s.analytics_group}-"}),
        ),
        NOTIFIER: Access(
            reads=_set(webhook_outcomes | {s.alerts_topic, s.webhooks_topic}),
            writes=_set(webhook_outcomes | {s.dead_letters_topic}),
            groups=_set({s.notifier_group}),
            group_prefixes=_set(follow("notifier-webhooks", "notifier-outcomes") | {parked_group_prefix(s)}),
        ),
        ADMIN: Access(
            reads=_set(auth | {s.dead_letters_topic}),
            # dead letters (drop), where a replay puts a message back, keys and their revocations
            writes=_set(
                catalog
                | {s.dead_letters_topic, s.events_topic, s.ledger_topic, s.alerts_topic}
                | {s.credentials_topic, s.revocations_topic}
            ),  # fmt: skip
            creates=_set(topic_specs(s)),
            groups=_set({dlq_reader_group(s)}),
            group_prefixes=_set(follow("auth")),
        ),
    }
    return table


def acls(access: Access) -> list[Acl]:
    """A process's access as Kafka ACLs (allow rules; everything else is denied)."""
    out = [
        Acl(("Read",), "topic", _sorted(access.reads), why="reads"),
        Acl(("Write",), "topic", _sorted(access.writes), why="writes"),
        Acl(("Create",), "topic", _sorted(access.creates), why="creates (bazaar topics)"),
        Acl(("Read",), "group", _sorted(access.groups), why="its consumer group"),
        Acl(("Read",), "group", _sorted(access.group_prefixes), prefixed=True, why="its readers' groups (never committed)"),
        Acl(("Create", "Read", "Write"), "topic", _sorted(access.own_topic_prefixes), prefixed=True, why="Faust's own topics"),
    ]
    return [acl for acl in out if acl.names]


def acl_commands(
    settings: Settings,
    principal_prefix: str = "User:",
    bootstrap: str = '"$KAFKA_BOOTSTRAP"',
    command_config: str = '"$KAFKA_ADMIN_CONFIG"',
) -> list[str]:
    """Shell lines: the SCRAM users (``kafka-configs.sh``) and the ACLs (``kafka-acls.sh``) of every
    process, for an operator whose own principal is a super user of the cluster."""
    connect = f"--bootstrap-server {bootstrap} --command-config {command_config}"
    lines = [
        "# Generated by `bazaar kafka acls` from bazaar_core/kafka/acls.py; run as a super user of the cluster.",
        "# KAFKA_BOOTSTRAP: the brokers; KAFKA_ADMIN_CONFIG: that super user's client properties.",
    ]
    scram = settings.kafka_sasl_mechanism.startswith("SCRAM-")
    if scram:
        lines.append("# One password per process, e.g. KAFKA_PASSWORD_API=$(openssl rand -base64 32); the same goes in its Secret.")
    for process, access in access_table(settings).items():
        user = principal_name(settings, process)
        principal = shlex.quote(principal_prefix + user)
        lines.append("")
        lines.append(f"# {process}: {user}")
        if scram:
            password = f"${{KAFKA_PASSWORD_{process.upper()}}}"
            add = f'"{settings.kafka_sasl_mechanism}=[iterations=8192,password={password}]"'
            lines.append(f"kafka-configs.sh {connect} --alter --entity-type users --entity-name {shlex.quote(user)} --add-config {add}")
        for acl in acls(access):
            operations = " ".join(f"--operation {op}" for op in acl.operations)
            resources = " ".join(f"--{acl.resource} {shlex.quote(name)}" for name in acl.names)
            pattern = " --resource-pattern-type prefixed" if acl.prefixed else ""
            lines.append(f"kafka-acls.sh {connect} --add --allow-principal {principal} {operations} {resources}{pattern}")
    return lines


def _set(items: set[str] | dict[str, int]) -> frozenset[str]:
    return frozenset(items)


def _sorted(items: frozenset[str]) -> tuple[str, ...]:
    return tuple(sorted(items))
