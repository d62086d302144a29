"""`bazaar dlq list|show|replay|drop`: the messages a consumer set aside (``bazaar_core.kafka.deadletters``).

``list`` shows what is waiting, ``show ID`` one message whole (its value decoded where it is text),
``replay`` puts messages back on their own topic and partition once the cause is fixed (consumers
are idempotent: a message counts once however often it is replayed), ``drop`` forgets them.
"""

from __future__ import annotations

import argparse
import json
import re
import sys

from bazaar_core.settings import get_settings
from schemas.deadletters import SOURCES, DeadLetter

_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def printable(text: str) -> str:
    """Text safe for a terminal: control characters (escape sequences a client smuggled into a
    message) are shown as \\xNN instead of being acted on."""
    return _CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", text)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    ls = sub.add_parser("list", help="the dead letters waiting (one line each)")
    ls.add_argument("--source", choices=SOURCES, help="only those a given process set aside")
    ls.add_argument("--store", help="only those of one store")
    ls.add_argument("--format", choices=("table", "json"), default="table")
    show = sub.add_parser("show", help="one dead letter whole, its message decoded")
    show.add_argument("id", help="topic|partition|offset, as `list` prints it")
    for name, text in (
        ("replay", "put messages back on their topic (after the cause is fixed) and drop their dead letters"),
        ("drop", "forget dead letters for good"),
    ):
        p = sub.add_parser(name, help=text)
        p.add_argument("ids", nargs="*", metavar="ID", help="topic|partition|offset, as `list` prints it")
        p.add_argument("--all", action="store_true", help="every dead letter (of --source / --store, if given)")
        p.add_argument("--source", choices=SOURCES)
        p.add_argument("--store")


def run(args: argparse.Namespace) -> int:
    from bazaar_core.kafka import deadletters

    settings = get_settings()
    letters = deadletters.read_all(settings)
    if args.action == "list":
        chosen = _select(letters, args.source, args.store)
        if args.format == "json":
            print(json.dumps([d.model_dump(mode="json") for d in chosen], indent=2))
        else:
            _table(chosen)
        return 0
    if args.action == "show":
        dead = letters.get(args.id)
        if dead is None:
            print(f"bazaar dlq: no dead letter {printable(args.id)!r} (see `bazaar dlq list`)", file=sys.stderr)
            return 1
        print(printable(_shown(dead)))
        return 0
    if args.all == bool(args.ids):
        print(f"bazaar dlq {args.action}: name IDs or --all (not both)", file=sys.stderr)
        return 2
    if args.all:
        chosen = _select(letters, args.source, args.store)
    else:
        missing = [i for i in args.ids if i not in letters]
        if missing:
            print(f"bazaar dlq: no dead letter {', '.join(printable(m) for m in missing)} (see `bazaar dlq list`)", file=sys.stderr)
            return 1
        chosen = [letters[i] for i in args.ids]
    if args.action == "replay":
        n = deadletters.replay(settings, chosen)
        print(f"replayed {n} message(s) onto their topics")
    else:
        n = deadletters.drop(settings, [d.id for d in chosen])
        print(f"dropped {n} dead letter(s)")
    return 0


def _select(letters: dict[str, DeadLetter], source: str | None, store: str | None) -> list[DeadLetter]:
    chosen = [d for d in letters.values() if (source is None or d.source == source) and (store is None or d.store_id == store)]
    return sorted(chosen, key=lambda d: (d.failed_at, d.id))


def _table(letters: list[DeadLetter]) -> None:
    if not letters:
        print("no dead letters")
        return
    rows = [("ID", "SOURCE", "STORE", "FAILED AT", "ERROR")]
    for d in letters:
        error = " ".join(d.error.split())
        rows.append((d.id, d.source, d.store_id or "-", d.failed_at.isoformat(timespec="seconds"), f"{d.error_type}: {error[:100]}"))
    widths = [max(len(printable(r[i])) for r in rows) for i in range(4)]
    for r in rows:
        print("  ".join(printable(c).ljust(w) for c, w in zip(r, widths)) + "  " + printable(r[4]))
    print(f"{len(letters)} dead letter(s)")


def _shown(dead: DeadLetter) -> str:
    body = dead.model_dump(mode="json")
    raw = dead.raw_value()
    if raw is not None:
        try:
            body["value_decoded"] = json.loads(raw)
        except ValueError:
            body["value_text"] = raw.decode(errors="replace")
    return json.dumps(body, indent=2, ensure_ascii=True)
