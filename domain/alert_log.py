"""What people see of the alerts topic: each store's active alerts, their history, and acks (pure).

The stream writes ``Alert`` and ``AlertCleared`` messages (schemas/alerts.py) keyed by store, so a
store's messages are in one partition, in order; the API writes ``AlertAck`` records. Rules:

* a message whose ``alert_id`` was seen already is a replay and changes nothing;
* an alert is **open** from the moment it is raised until it is cleared (an ``AlertCleared`` naming
  it, or, without a name, the same store, sku and kind) or replaced by a later alert of the same
  store, sku and kind;
* an open alert is **active** unless it was acknowledged, or another open, unacknowledged alert of
  the same (store, sku) is more severe: negative_stock > out_of_stock > low_stock > running_out.
  Such an alert is ``superseded``; it shows again if the more severe one clears first.

History keeps every alert with its state: ``active``, ``superseded``, ``acknowledged``, ``cleared``
or ``replaced``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

LEVEL = {"running_out": 1, "low_stock": 2, "out_of_stock": 3, "negative_stock": 4}


@dataclass
class Entry:
    message: dict[str, Any]  # the Alert as on the topic (JSON-ready)
    offset: int  # on the alerts topic (one partition per store: offsets order a store's messages)
    index: int  # position in the store's history
    cleared: dict[str, Any] | None = None  # the AlertCleared that ended it
    replaced_by: str | None = None

    @property
    def key(self) -> tuple[str, str]:
        return self.message["sku"], self.message["kind"]


@dataclass
class StoreLog:
    alerts: list[str] = field(default_factory=list)  # alert ids in arrival order
    open: dict[tuple[str, str], str] = field(default_factory=dict)  # (sku, kind) -> open alert id
    messages: list[tuple[int, str, dict[str, Any]]] = field(default_factory=list)  # (offset, "alert"|"cleared", msg)
    acks: list[tuple[int, dict[str, Any]]] = field(default_factory=list)  # (acks topic offset, ack)


class AlertLog:
    def __init__(self) -> None:
        self.entries: dict[str, Entry] = {}
        self.seen: set[str] = set()  # every message id (alerts and cleared)
        self.acks: dict[str, dict[str, Any]] = {}
        self.stores: dict[str, StoreLog] = {}
        self.last_ack_offset = -1

    def store(self, store_id: str) -> StoreLog:
        return self.stores.setdefault(store_id, StoreLog())

    # ---- input ---------------------------------------------------------------------------------

    def add_message(self, msg: dict[str, Any], offset: int) -> str | None:
        """Apply one alerts-topic message; its type when new, None for a replay."""
        mid = str(msg["alert_id"])
        if mid in self.seen:
            return None
        self.seen.add(mid)
        log = self.store(msg["store_id"])
        log.messages.append((offset, msg["type"], msg))
        key = (msg["sku"], msg["kind"])
        if msg["type"] == "cleared":
            target = msg.get("cleared_alert_id") or log.open.get(key)
            entry = self.entries.get(str(target)) if target else None
            if entry is not None and entry.cleared is None:
                entry.cleared = msg
            if target and log.open.get(key) == str(target):
                del log.open[key]
            return "cleared"
        previous = log.open.get(key)
        if previous is not None:
            self.entries[previous].replaced_by = mid
        self.entries[mid] = Entry(msg, offset, len(log.alerts))
        log.alerts.append(mid)
        log.open[key] = mid
        return "alert"

    def add_ack(self, ack: dict[str, Any], offset: int) -> bool:
        """Apply an ack record; True when it is the first ack of that alert."""
        self.last_ack_offset = max(self.last_ack_offset, offset)
        aid = str(ack["alert_id"])
        if aid in self.acks:
            return False
        self.acks[aid] = ack
        self.store(ack["store_id"]).acks.append((offset, ack))
        return True

    # ---- queries ----------------------------------------------------------------------------------

    def get(self, store_id: str, alert_id: str) -> Entry | None:
        entry = self.entries.get(alert_id)
        return entry if entry is not None and entry.message["store_id"] == store_id else None

    def state(self, entry: Entry) -> str:
        aid = str(entry.message["alert_id"])
        if entry.cleared is not None:
            return "cleared"
        if entry.replaced_by is not None:
            return "replaced"
        if aid in self.acks:
            return "acknowledged"
        if self._outranked(entry):
            return "superseded"
        return "active"

    def view(self, entry: Entry) -> dict[str, Any]:
        """The alert as the API shows it: the message plus its state, ack (and who made it) and clearing."""
        cleared = entry.cleared
        ack = self.acks.get(str(entry.message["alert_id"]))
        return {
            **entry.message,
            "state": self.state(entry),
            "acknowledged": ack,
            "cleared_at": cleared["raised_at"] if cleared else None,
            "cleared_by": str(cleared["alert_id"]) if cleared else None,
            "acked_by": ack.get("by") if ack else None,  # an ack written before names were kept has none
            "acked_at": ack.get("acked_at") if ack else None,
        }

    def active(self, store_id: str) -> list[dict[str, Any]]:
        """Active alerts of a store, most severe first, then by sku."""
        log = self.stores.get(store_id)
        if log is None:
            return []
        entries = [self.entries[a] for a in log.open.values()]
        out = [self.view(e) for e in entries if self.state(e) == "active"]
        out.sort(key=lambda v: (-LEVEL.get(v["kind"], 0), v["sku"]))
        return out

    def history(self, store_id: str, limit: int, before: int | None = None) -> tuple[list[dict[str, Any]], int | None]:
        """Every alert of a store, newest first; ``before`` is the previous page's cursor."""
        log = self.stores.get(store_id)
        if log is None:
            return [], None
        end = len(log.alerts) if before is None else max(0, min(before, len(log.alerts)))
        start = max(0, end - limit)
        items = [self.view(self.entries[a]) for a in reversed(log.alerts[start:end])]
        return items, (start if start > 0 else None)

    def cursor(self, store_id: str) -> tuple[int, int]:
        """(last alerts-topic offset of the store, last acks offset): where a live stream stands."""
        log = self.stores.get(store_id)
        last = log.messages[-1][0] if log and log.messages else -1
        return last, self.last_ack_offset

    def since(self, store_id: str, alert_offset: int, ack_offset: int) -> list[tuple[str, int, dict[str, Any]]]:
        """What a stream that stopped at (alert_offset, ack_offset) missed: ("alert"|"cleared"|"ack", offset, data)."""
        log = self.stores.get(store_id)
        if log is None:
            return []
        out = [(t, o, m) for o, t, m in log.messages if o > alert_offset]
        out += [("ack", o, a) for o, a in log.acks if o > ack_offset]
        return out

    # ---- internals ---------------------------------------------------------------------------------

    def _outranked(self, entry: Entry) -> bool:
        if entry.message["kind"] not in LEVEL:  # not a stock level (void_unmatched): nothing outranks it
            return False
        log = self.stores[entry.message["store_id"]]
        sku, level = entry.message["sku"], LEVEL.get(entry.message["kind"], 0)
        for (other_sku, kind), aid in log.open.items():
            if other_sku == sku and LEVEL.get(kind, 0) > level and aid not in self.acks:
                return True
        return False
