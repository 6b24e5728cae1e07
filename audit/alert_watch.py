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
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from audit.lazy_log import get_logger
from audit.seal import SealStore
from audit.store import AuditStore
from catalog.errors import Unavailable

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
    def notify(self, _seq: int = 0) -> None: ...


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
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=5)
        self._drop()

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
        while not self._stop.wait(self.every_s):
            try:
                self.look()
            except Unavailable as exc:
                if not failing:
                    log.warning("alert_head_unreadable", error=exc.message)
                failing = True
            else:
                failing = False
