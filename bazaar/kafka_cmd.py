"""`bazaar kafka`: run the embedded single-node broker (plaintext on 127.0.0.1), or with `--nodes 3` a
three-node KRaft cluster on this machine; or, with `acls`, print what a secured cluster needs for
this app: each process's SCRAM user and exactly its ACLs."""

from __future__ import annotations

import argparse


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--fetch-only", action="store_true", help="only fetch the Kafka jars, then exit")
    parser.add_argument(
        "--nodes",
        type=int,
        choices=range(1, 10),
        metavar="N",
        help="run a cluster of N nodes (each a KRaft controller and a broker) instead of one broker: node i on "
        "the bootstrap and controller ports + 2i, its data in $BAZAAR_DATA_DIR/kafka/node-<i> (default BAZAAR_KAFKA_NODES=1)",
    )
    sub = parser.add_subparsers(dest="action", metavar="ACTION")
    acls = sub.add_parser(
        "acls",
        help="print the kafka-configs.sh (SCRAM users) and kafka-acls.sh commands that give each process "
        "(api, worker, analytics, notifier, admin) exactly the topics and groups it uses",
        description="Print, for a secured cluster, each process's SCRAM user and its ACLs (docs/deploy.md). "
        "Topic names come from the settings (BAZAAR_TOPIC_PREFIX, BAZAAR_APP_ID).",
    )
    acls.add_argument(
        "--principal-prefix",
        default="User:",
        help='what goes before a process\'s name in a principal (default "User:"; e.g. "User:CN=" for mTLS without a mapping rule)',
    )
    acls.add_argument("--bootstrap-server", default='"$KAFKA_BOOTSTRAP"', help="as written into each command (default: a shell variable)")
    acls.add_argument("--command-config", default='"$KAFKA_ADMIN_CONFIG"', help="the super user's client properties file")


def run(args: argparse.Namespace) -> int:
    if args.action == "acls":
        from bazaar_core.kafka.acls import acl_commands
        from bazaar_core.settings import get_settings

        print("\n".join(acl_commands(get_settings(), args.principal_prefix, args.bootstrap_server, args.command_config)))
        return 0
    from bazaar_core.kafka import local

    return local.run(args)
