"""The rule runner in a process of its own: what it reads instead of an ``AuditLog``.

In the gateway's process the runner costs the requests it watches their CPU: every
evaluation reads, parses and indexes the day's new events under the same interpreter
lock as the queries (measured on the bench's small query: a third of the governed
route's overhead went to it under load). A separate process (``sluice alerts run``,
which ``sluice serve`` starts) evaluates on the other cores. It writes nothing to the
trail, so it needs no writer, key ring or chain lock: only the store to read, the
home's seal file and the alert files (state, outbox) shared with the gateway.

With no writer in the process there is no commit to wake the runner, so ``HeadWatch``
looks at the chain's head (one indexed ``max(seq)``) and the seal file a few times a
second and wakes it when either moved; the runner's own settling and throttling stay.
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol

import orjson

from audit.events import format_ts, parse_ts, utc_now
from audit.lazy_log import get_logger
from audit.seal import SealStore
from audit.store import AuditStore
from catalog.errors import Unavailable
from catalog.private_files import read_own_object, replace_private

log = get_logger("sluice.alerts")


@dataclass
class TrailView:
    """The parts of ``AuditLog`` the rule runner and its alert files read."""

    store: AuditStore
    home: Path
    seal: SealStore

    def on_commit(self, _listener: Any) -> None:
        """Nothing commits here: ``HeadWatch`` wakes the runner instead."""


class Wakeable(Protocol):
    evaluations: int

    def notify(self, _seq: int = 0) -> None: ...


BEAT_NAME = "alerts-runner.json"
"""The rule process's sign of life in the home: ``sluice doctor`` and ``/metrics`` read
it, so a rule process that is not running (crashing, or never started beside a gateway
told ``external``) shows instead of a silence that looks like a quiet day."""
BEAT_EVERY_S = 5.0


def write_beat(home: Path, runner: Wakeable, now: datetime) -> None:
    """The beat says when the rules were last seen able to run: ``now`` between
    evaluations, the start of the one under way while it lasts. Written by the head
    watch's thread, it said ``now`` whatever the rule thread did: one stuck on the alert
    state file's lock (anyone on the host with the service account can hold it) opened
    nothing while the doctor and ``/metrics`` saw it seconds ago (red team 23)."""
    if not getattr(runner, "running", True):
        return  # the rule thread ended: the beat ages
    busy = getattr(runner, "busy_since", None)
    failing = getattr(runner, "failing_since", None)  # every evaluation since fails (red team 24)
    seen = min([now, *(t for t in (busy, failing) if isinstance(t, datetime))])
    body: dict[str, Any] = {"pid": os.getpid(), "seen_at": format_ts(seen),
                            "evaluations": runner.evaluations}  # fmt: skip
    if isinstance(failing, datetime):
        body["failing_since"] = format_ts(failing)
    replace_private(home / BEAT_NAME, orjson.dumps(body))


MODE_NAME = "alerts-mode.json"
"""Where the last gateway started on this home runs its rules (``thread`` or
``external``), written at its start: the gateway's mode is a setting of its own (``sluice
serve --alerts``), not the environment ``sluice doctor`` reads, so without it a gateway
told the rules run elsewhere, with none running, looked to the doctor like one running
them itself (red team 23)."""


def write_mode(home: Path, runner: str) -> None:
    replace_private(home / MODE_NAME, orjson.dumps({"runner": runner, "pid": os.getpid()}))


def rules_elsewhere(home: Path) -> bool:
    """Whether the last gateway started on ``home`` left its rules to a rule process."""
    found = read_own_object(home / MODE_NAME)
    return found is not None and found.get("runner") == "external"


def read_beat(home: Path) -> dict[str, Any] | None:
    """The newest beat, or None if there is none (or it is not one)."""
    found = read_own_object(home / BEAT_NAME)
    return found if found is not None and isinstance(found.get("seen_at"), str) else None


def beat_age_s(home: Path, now: datetime) -> float | None:
    """Seconds since the rule process last wrote its beat, or None (none, or unreadable)."""
    beat = read_beat(home)
    if beat is None:
        return None
    try:
        return max((now - parse_ts(beat["seen_at"])).total_seconds(), 0.0)
    except ValueError:
        return None


class HeadWatch:
    """Wakes ``runner`` when the chain's head or the seal file changed; ``start()``,
    ``stop()``. A store that does not answer is retried at the next look."""

    def __init__(self, view: TrailView, runner: Wakeable, *, every_s: float = 0.25) -> None:
        self.view = view
        self.runner = runner
        self.every_s = every_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="sluice-alert-head", daemon=True)
        self._conn: Any = None
        self._seen: tuple[int, str | None, bool, int] | None = None

    def start(self) -> HeadWatch:
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop watching; a clean stop takes this process's beat away (a stale beat then
        means a rule process that died, not one stopped with its gateway)."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=5)
        self._drop()
        if (read_beat(self.view.home) or {}).get("pid") == os.getpid():
            with contextlib.suppress(OSError):
                (self.view.home / BEAT_NAME).unlink()

    def look(self) -> bool:
        """One look; True (and the runner woken) when something moved since the last."""
        seal = self.view.seal
        seal.refresh()
        seq, digest = self._head()
        now = (seq, digest, bool(seal.sealed), seal.epoch.number)
        moved, self._seen = now != self._seen, now
        if moved:
            self.runner.notify(seq)
        return moved

    def _head(self) -> tuple[int, str | None]:
        store = self.view.store
        if self._conn is None:
            self._conn = store.connect(reader=True)
        try:
            cur = self._conn.cursor()
            try:
                return store.head(cur)
            finally:
                cur.close()
                store.rollback(self._conn)  # a fresh snapshot at the next look
        except store.driver_errors as exc:
            self._drop()
            raise Unavailable(f"audit store failed: {type(exc).__name__}") from None

    def _drop(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            with contextlib.suppress(Exception):  # already broken: nothing to release
                conn.close()

    def _run(self) -> None:
        failing = False
        beat_due = 0.0
        while not self._stop.wait(self.every_s):
            if time.monotonic() >= beat_due:
                beat_due = time.monotonic() + BEAT_EVERY_S
                with contextlib.suppress(OSError):  # a full disk: the doctor sees it stale
                    write_beat(self.view.home, self.runner, utc_now())
            try:
                self.look()
            except Unavailable as exc:
                if not failing:
                    log.warning("alert_head_unreadable", error=exc.message)
                failing = True
            else:
                failing = False
