"""The lifecycle of alerts: open → acknowledged → resolved, with who, when and a note.

Alerts are findings of ``audit.alerts`` (plus the seal, a critical alert); their state
lives in ``<home>/alerts-state.jsonl``: one fsynced JSON line per change, appended with
O_APPEND and replayed on read (re-read whenever the file grows, so several processes
over one home agree). Records (``kind``):

- ``pushed``: the alert was seen by the pusher and sent (or given up on) once;
- ``acknowledged`` / ``resolved``: a person's action, with ``by``, ``at`` and ``note``.

A change is audited *before* it is written: ``transition`` runs the caller's ``record``
(which appends ``alert.acknowledged`` / ``alert.resolved`` to the trail, failing closed)
under the store's lock, then appends the state line.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson

from audit.alerts import alert_id, compute_alerts
from audit.events import format_ts, utc_now
from audit.jsonl import append_line, read_objects
from audit.search import EventFilter, iter_bodies
from catalog.errors import Conflict

STATE_NAME = "alerts-state.jsonl"
STATES = ("open", "acknowledged", "resolved")
# the allowed moves: from each state, the states an action may take it to
MOVES = {"open": {"acknowledged", "resolved"}, "acknowledged": {"resolved"}, "resolved": set()}


class AlertStates:
    """The alert state file of one Sluice home; thread-safe."""

    def __init__(self, home: Path) -> None:
        self.path = home / STATE_NAME
        self._lock = threading.RLock()
        self._size = -1
        self._states: dict[str, dict[str, Any]] = {}
        self._pushed: set[str] = set()

    def _refresh(self) -> None:
        try:
            size = self.path.stat().st_size
        except FileNotFoundError:
            size = 0
        if size == self._size:
            return
        states: dict[str, dict[str, Any]] = {}
        pushed: set[str] = set()
        if size:
            for rec in read_objects(self.path):
                aid, kind = str(rec.get("id")), rec.get("kind")
                if kind == "pushed":
                    pushed.add(aid)
                elif kind in ("acknowledged", "resolved"):
                    entry = states.setdefault(aid, {"history": []})
                    entry["state"] = kind
                    entry["history"].append({k: rec.get(k) for k in ("kind", "by", "at", "note")})
        self._states, self._pushed, self._size = states, pushed, size

    def _append(self, record: dict[str, Any]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        append_line(self.path, orjson.dumps(record))
        self._size = -1

    def state(self, aid: str) -> dict[str, Any]:
        """``{"state", "history"}`` of one alert (``open`` with no history if untouched)."""
        with self._lock:
            self._refresh()
            entry = self._states.get(aid)
            if entry is None:
                return {"state": "open", "history": []}
            return {"state": entry["state"], "history": list(entry["history"])}

    def known(self, aid: str) -> bool:
        with self._lock:
            self._refresh()
            return aid in self._states or aid in self._pushed

    def pushed(self) -> set[str]:
        with self._lock:
            self._refresh()
            return set(self._pushed)

    def mark_pushed(self, aid: str, *, delivered: bool) -> None:
        with self._lock:
            self._append({"kind": "pushed", "id": aid, "at": format_ts(utc_now()),
                          "delivered": delivered})  # fmt: skip

    def transition(
        self,
        aid: str,
        to: str,
        *,
        by: str,
        note: str,
        record: Callable[[str], None],
    ) -> dict[str, Any]:
        """Move ``aid`` to ``to``: 409 if the move is not allowed from its state; the
        audit event (``record(current_state)``) is appended first, then the state."""
        with self._lock:
            current = self.state(aid)["state"]
            if to not in MOVES[current]:
                raise Conflict(f"alert {aid} is {current}; it cannot become {to}")
            record(current)
            at = format_ts(utc_now())
            self._append({"kind": to, "id": aid, "by": by, "at": at, "note": note})
            return self.state(aid)


_STORES: dict[Path, AlertStates] = {}
_STORES_LOCK = threading.Lock()


def alert_states(home: Path) -> AlertStates:
    """One ``AlertStates`` per home in this process (they share its lock)."""
    key = Path(home).resolve()
    with _STORES_LOCK:
        if key not in _STORES:
            _STORES[key] = AlertStates(key)
        return _STORES[key]


def sealed_alert(log: Any) -> dict[str, Any] | None:
    """The seal as a critical alert (``audit.sealed``), or None when not sealed."""
    seal = log.seal
    if not seal.sealed:
        return None
    at = str(seal.state.sealed_at or "")
    return {
        "id": alert_id("audit.sealed", None, at),
        "rule": "audit.sealed",
        "severity": "critical",
        "actor": None,
        "subject": None,
        "summary": f"audit trail sealed: {seal.state.reason}",
        "event_seqs": [],
        "window": at,
        "count": 1,
        "sealed_at": at,
    }


def current_alerts(
    log: Any, since: datetime | None = None, until: datetime | None = None
) -> list[dict[str, Any]]:
    """Evaluate every rule over ``[since, until]`` (default: the last day) plus the
    seal, each alert with its ``state`` and the people who acted on it."""
    end = until or datetime.now(UTC)
    start = since or end - timedelta(days=1)
    events = iter_bodies(store=log.store, filters=EventFilter(since=start, until=end))
    found = compute_alerts(events)
    sealed = sealed_alert(log)
    if sealed is not None:
        found.insert(0, sealed)
    states = alert_states(log.home)
    for alert in found:
        state = states.state(alert["id"])
        alert["state"] = state["state"]
        alert["history"] = state["history"]
    return found
