"""The lifecycle of alerts: open → acknowledged → resolved, with who, when and a note;
the alerts opened so far; the emergency actions taken on each.

Alerts are findings of ``audit.alerts`` (plus the seal, a critical alert); their state
lives in ``<home>/alerts-state.jsonl``: one fsynced JSON line per change, appended with
O_APPEND and replayed on read (re-read whenever the file grows, so several processes
over one home agree). Records (``kind``):

- ``opened``: the rule runner saw the alert for the first time (with the alert as it
  was then, so it stays listed once its events leave the evaluated window);
- ``acknowledged`` / ``resolved``: a person's action, with ``by``, ``at`` and ``note``;
  a resolution also records ``upto_seq``, the newest event it covered;
- ``action``: an emergency action (suspension, freeze, grant revocation) taken on the
  alert: ``action``, ``by``, ``at``, ``target``;
- ``pushed`` (older files): read as ``opened``.

Recurrence: an alert is one rule, subject and UTC day; once it is resolved, an
occurrence whose events are newer than ``upto_seq`` opens a *new* alert (id over
``<day>#1``, ``#2``…, ``recurrence_of`` naming the one before), so a finding that comes
back the same day is never hidden behind a resolution.

A change is audited *before* it is written: ``transition`` runs the caller's ``record``
(which appends ``alert.acknowledged`` / ``alert.resolved`` to the trail, failing closed)
under the store's lock, then appends the state line.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson

from audit.alert_common import Alert, rule_view
from audit.alert_outbox import file_lock, outbox
from audit.alerts import AlertConfig, alert_id, compute_alerts, finish
from audit.baseline import Baseline
from audit.events import format_ts, utc_now
from audit.jsonl import append_line, read_objects
from audit.search import EventFilter, iter_bodies
from catalog.errors import Conflict
from catalog.private_files import private_dir

STATE_NAME = "alerts-state.jsonl"
STATES = ("open", "acknowledged", "resolved")
# the allowed moves: from each state, the states an action may take it to
MOVES = {"open": {"acknowledged", "resolved"}, "acknowledged": {"resolved"}, "resolved": set()}
# live parts of an alert: never stored in its ``opened`` snapshot
LIVE = ("state", "history", "actions", "pushes", "summary_template")


def public(alert: Alert) -> Alert:
    """The alert as stored, pushed and returned: no internal or live members."""
    return {k: v for k, v in alert.items() if k not in LIVE}


class AlertStates:
    """The alert state file of one Sluice home; thread-safe."""

    def __init__(self, home: Path) -> None:
        self.path = home / STATE_NAME
        self._lock = threading.RLock()
        self._size = -1
        self._states: dict[str, dict[str, Any]] = {}
        self._opened: dict[str, dict[str, Any] | None] = {}
        self._actions: dict[str, list[dict[str, Any]]] = {}
        self._upto: dict[str, int | None] = {}

    def _refresh(self) -> None:
        try:
            size = self.path.stat().st_size
        except FileNotFoundError:
            size = 0
        if size == self._size:
            return
        states: dict[str, dict[str, Any]] = {}
        opened: dict[str, dict[str, Any] | None] = {}
        actions: dict[str, list[dict[str, Any]]] = {}
        upto: dict[str, int | None] = {}
        for rec in read_objects(self.path) if size else []:
            aid, kind = str(rec.get("id")), rec.get("kind")
            if kind in ("opened", "pushed"):
                snap = rec.get("alert")
                if opened.get(aid) is None:
                    opened[aid] = {**snap, "opened_at": rec.get("at")} if isinstance(
                        snap, dict) else None  # fmt: skip
            elif kind in ("acknowledged", "resolved"):
                entry = states.setdefault(aid, {"history": []})
                entry["state"] = kind
                entry["history"].append({k: rec.get(k) for k in ("kind", "by", "at", "note")})
                if kind == "resolved":
                    value = rec.get("upto_seq")
                    upto[aid] = value if isinstance(value, int) else None
            elif kind == "action":
                actions.setdefault(aid, []).append(
                    {k: rec.get(k) for k in ("action", "by", "at", "target")})  # fmt: skip
        self._states, self._opened, self._actions, self._upto = states, opened, actions, upto
        self._size = size

    def _append(self, record: dict[str, Any]) -> None:
        private_dir(self.path.parent)
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
        """Opened, acted on or moved at some point (found by id without evaluating)."""
        with self._lock:
            self._refresh()
            return aid in self._states or aid in self._opened or aid in self._actions

    def opened(self) -> set[str]:
        with self._lock:
            self._refresh()
            return set(self._opened)

    def resolved(self) -> set[str]:
        """Ids resolved so far: the alerts ``generations`` may split (the live runner
        runs it only for those, every other alert being its own single generation)."""
        with self._lock:
            self._refresh()
            return {aid for aid, entry in self._states.items() if entry["state"] == "resolved"}

    def snapshot(self, aid: str) -> dict[str, Any] | None:
        with self._lock:
            self._refresh()
            snap = self._opened.get(aid)
            return dict(snap) if snap is not None else None

    def snapshots(self) -> list[dict[str, Any]]:
        with self._lock:
            self._refresh()
            return [dict(s) for s in self._opened.values() if s is not None]

    def open(self, alert: Alert) -> bool:
        """Record that ``alert`` was seen; False if some process recorded it already."""
        with self._lock, file_lock(self.path.with_suffix(".lock")):
            self._refresh()
            if alert["id"] in self._opened:
                return False
            line = orjson.dumps({"kind": "opened", "id": alert["id"], "at": format_ts(utc_now()),
                                 "alert": public(alert)})  # fmt: skip
            before = self._size
            private_dir(self.path.parent)
            append_line(self.path, line)
            # the file is what was read plus this line (no other writer came between):
            # take the line as a re-read would, instead of re-reading the whole file at
            # the next look — a first evaluation opens hundreds of alerts in a row
            size = self.path.stat().st_size
            if before >= 0 and size == before + len(line) + 1:
                record = orjson.loads(line)
                self._opened[alert["id"]] = {**record["alert"], "opened_at": record["at"]}
                self._size = size
            else:
                self._size = -1
            return True

    def add_action(self, aid: str, *, action: str, by: str, target: str) -> None:
        """An emergency action taken on the alert (its audit event is already written)."""
        with self._lock:
            self._append({"kind": "action", "id": aid, "action": action, "by": by,
                          "at": format_ts(utc_now()), "target": target})  # fmt: skip

    def actions(self, aid: str) -> list[dict[str, Any]]:
        with self._lock:
            self._refresh()
            return list(self._actions.get(aid, []))

    def transition(
        self,
        aid: str,
        to: str,
        *,
        by: str,
        note: str,
        record: Callable[[str], None],
        upto_seq: int | None = None,
    ) -> dict[str, Any]:
        """Move ``aid`` to ``to``: 409 if the move is not allowed from its state; the
        audit event (``record(current_state)``) is appended first, then the state. A
        resolution covers the events up to ``upto_seq`` (None: whatever comes later)."""
        with self._lock:
            current = self.state(aid)["state"]
            if to not in MOVES[current]:
                raise Conflict(f"alert {aid} is {current}; it cannot become {to}")
            record(current)
            line: dict[str, Any] = {"kind": to, "id": aid, "by": by,
                                    "at": format_ts(utc_now()), "note": note}  # fmt: skip
            if to == "resolved" and upto_seq is not None:
                line["upto_seq"] = upto_seq
            self._append(line)
            return self.state(aid)

    def generations(self, alert: Alert) -> list[Alert]:
        """Split a grouped alert at its resolutions: the occurrences a resolution
        covered stay on the resolved alert, later ones open the next generation."""
        with self._lock:
            self._refresh()
            out: list[Alert] = []
            remaining: list[list[int]] = list(alert["occurrences"])
            aid, previous, gen = alert["id"], None, 0
            while remaining:
                resolved = self._states.get(aid, {}).get("state") == "resolved"
                upto = self._upto.get(aid) if resolved else None
                if resolved and upto is not None:
                    mine = [o for o in remaining if o[-1] <= upto]
                    remaining = [o for o in remaining if o[-1] > upto]
                else:
                    mine, remaining = remaining, []
                if mine:
                    part = finish({**alert, "id": aid, "occurrences": mine})
                    if previous is not None:
                        part["recurrence_of"] = previous
                    out.append(part)
                gen += 1
                previous = aid
                aid = alert_id(alert["rule"], alert["subject"], f"{alert['window']}#{gen}")
            return out

    def decorate(self, alert: Alert, pushes: Mapping[str, list[dict[str, Any]]]) -> Alert:
        """The alert with its live parts: state, history, actions, pushes, opened_at."""
        with self._lock:
            self._refresh()
            out = public(alert)
            out.update(self.state(alert["id"]))
            out["actions"] = list(self._actions.get(alert["id"], []))
            out["pushes"] = list(pushes.get(alert["id"], []))
            snap = self._opened.get(alert["id"])
            if snap is not None and "opened_at" not in out:
                out["opened_at"] = snap.get("opened_at")
            return out


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
        "occurrences": [],
        "window": at,
        "count": 1,
        "sealed_at": at,
    }


def live_alerts(
    log: Any, events: list[dict[str, Any]], *, config: AlertConfig | None = None,
    baselines: Mapping[str, Baseline] | None = None,
) -> list[Alert]:  # fmt: skip
    """The rules over ``events``, split at resolutions, plus the seal (first); without
    live parts. The rule runner and the read path both call this."""
    states = alert_states(log.home)
    found = [part for alert in compute_alerts(events, config, baselines)
             for part in states.generations(alert)]  # fmt: skip
    sealed = sealed_alert(log)
    if sealed is not None:
        found.insert(0, sealed)
    return found


def current_alerts(
    log: Any,
    since: datetime | None = None,
    until: datetime | None = None,
    *,
    config: AlertConfig | None = None,
    baselines: Mapping[str, Baseline] | None = None,
) -> list[dict[str, Any]]:
    """Evaluate every rule over ``[since, until]`` (default: the last day) plus the
    seal, and add the alerts opened in that period that evaluation no longer finds
    (their events aged out, or a late end closed an unended query): each with its
    ``state``, history, the emergency ``actions`` taken on it and its ``pushes``."""
    end = until or datetime.now(UTC)
    start = since or end - timedelta(days=1)
    bodies = iter_bodies(store=log.store, filters=EventFilter(since=start, until=end))
    # the rules' typed view, as the runner reads them (red team 24)
    events = [e for e in map(rule_view, bodies) if e is not None]
    found = live_alerts(log, events, config=config, baselines=baselines)
    states = alert_states(log.home)
    seen = {a["id"] for a in found}
    lo, hi = format_ts(start), format_ts(end)
    for snap in states.snapshots():
        if snap["id"] not in seen and lo <= str(snap.get("opened_at") or "") < hi:
            found.append(snap)
            seen.add(snap["id"])
    pushes = outbox(log.home).statuses()
    return [states.decorate(alert, pushes) for alert in found]


def find_alert(
    log: Any, aid: str, *, config: AlertConfig | None = None,
    baselines: Mapping[str, Baseline] | None = None,
) -> dict[str, Any] | None:  # fmt: skip
    """One alert by id: evaluated over the last day, else as opened; None if unknown."""
    for alert in current_alerts(log, config=config, baselines=baselines):
        if alert["id"] == aid:
            return alert
    states = alert_states(log.home)
    snap = states.snapshot(aid)
    if snap is not None:
        return states.decorate(snap, outbox(log.home).statuses())
    if states.known(aid):
        return states.decorate({"id": aid, "rule": None}, {})
    return None
