"""The alert outbox: every push owed to a channel, kept on disk until it is delivered
or given up, so a failed push is retried with back-off and a restart resumes it.

``<home>/alerts-outbox.jsonl`` is an append-only JSON-lines file (``audit.jsonl``:
one fsynced ``O_APPEND`` write per record, a torn last line skipped), replayed on read.
Records (``kind``), each naming the alert ``id`` and the ``channel``:

- ``queued``: owed, with the alert as it was when it opened (so a restart can send it
  even once the alert has left the evaluated window) and ``retry_at`` (epoch seconds);
- ``claimed``: a sender (``by``) took it until ``until`` — other processes over the same
  home leave it alone meanwhile; after a crash the claim lapses and the push is due
  again. A sender renews its claim on each push just before attempting it (``renew``),
  and leaves it when the claim lapsed and another sender took it meanwhile: a sender
  takes up to 20 pushes at once, each bounded at its channel's timeout, so the claim
  taken with them could lapse before the last was tried and another sender pushed it
  too (red team 24's left row: duplicates). The renewed claim covers the attempt's
  whole bound — the channel's timeout (``SLUICE_ALERT_PUSH_TIMEOUT_SECONDS``, up to
  300 s) plus ``CLAIM_MARGIN_S`` — when that is longer than ``CLAIM_S``: a claim shorter
  than one attempt lapsed mid-attempt, and another sender pushed the alert again (rows35);
- ``failed``: one attempt failed (``error`` is a class name or an HTTP/SMTP code, never
  a URL, an address book or a secret) and the next is due at ``retry_at``;
- ``gave_up``: the last attempt failed; the alert shows it (``pushes``) and the log
  says ``alert_push_gave_up``;
- ``delivered``: the channel accepted it.

Check-then-append sequences (enqueue once, claim once) run under an exclusive
``flock`` on ``alerts-outbox.lock`` so several gateway processes over one home agree.
"""

from __future__ import annotations

import fcntl
import os
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from audit.events import format_ts, utc_now
from audit.jsonl import append_line, read_objects
from catalog.private_files import open_own, private_dir

OUTBOX_NAME = "alerts-outbox.jsonl"
CLAIM_S = 120.0
"""How long a sender owns a push it took, at least; an attempt's claim is longer when
its bound is (``renew``'s ``bound_s``)."""
CLAIM_MARGIN_S = 30.0
"""Beyond an attempt's bound: the deadline's cut, a name lookup the cut does not reach
(the resolver's own retries), and writing the attempt's end to the outbox."""


@dataclass
class Push:
    """What is owed to one channel for one alert, as replayed from the file."""

    id: str
    channel: str
    alert: dict[str, Any]
    status: str = "pending"  # pending, delivered, failed (given up)
    attempts: int = 0
    error: str | None = None
    retry_at: float = 0.0
    claimed_until: float = 0.0
    claimed_by: str | None = None
    at: str | None = None  # when the last record about it was written

    def public(self) -> dict[str, Any]:
        """As ``GET /api/v1/audit/alerts`` shows it on the alert (``pushes``)."""
        return {
            "channel": self.channel,
            "status": self.status,
            "attempts": self.attempts,
            "error": self.error,
            "at": self.at,
        }


@contextmanager
def file_lock(path: Path) -> Iterator[None]:
    """An exclusive ``flock`` on ``path`` (created 0600), for check-then-append."""
    private_dir(path.parent)
    fd = open_own(path, os.O_RDWR)  # never through a link (red team 34)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing the descriptor releases the lock


class Outbox:
    """The outbox of one Sluice home; thread-safe, and safe across processes."""

    def __init__(
        self, home: Path, *, clock: Callable[[], float] = time.time, claim_s: float = CLAIM_S
    ) -> None:
        self.path = home / OUTBOX_NAME
        self.clock, self.claim_s = clock, claim_s
        self._lock = threading.RLock()
        self._size = -1
        self._pushes: dict[tuple[str, str], Push] = {}
        # one per outbox, not per process: two senders of one process are two claimants
        self._owner = f"{os.uname().nodename}:{os.getpid()}:{uuid.uuid4().hex[:8]}"

    @contextmanager
    def _exclusive(self) -> Iterator[None]:
        with self._lock, file_lock(self.path.with_suffix(".lock")):
            self._refresh()
            yield

    def _refresh(self) -> None:
        try:
            size = self.path.stat().st_size
        except FileNotFoundError:
            size = 0
        if size == self._size:
            return
        pushes: dict[tuple[str, str], Push] = {}
        for rec in read_objects(self.path) if size else []:
            key = (str(rec.get("id")), str(rec.get("channel")))
            kind = rec.get("kind")
            if kind == "queued":
                alert = rec.get("alert")
                pushes.setdefault(
                    key,
                    Push(
                        id=key[0],
                        channel=key[1],
                        alert=alert if isinstance(alert, dict) else {},
                        retry_at=float(rec.get("retry_at") or 0),
                        at=rec.get("at"),
                    ),
                )
                continue
            push = pushes.get(key)
            if push is None:
                continue
            push.at = rec.get("at") or push.at
            if kind == "claimed":
                push.claimed_until = float(rec.get("until") or 0)
                push.claimed_by = str(rec.get("by") or "")
            elif kind == "failed":
                push.attempts = int(rec.get("attempt") or push.attempts + 1)
                push.error = rec.get("error")
                push.retry_at = float(rec.get("retry_at") or 0)
                push.claimed_until = 0.0
            elif kind == "gave_up":
                push.attempts = int(rec.get("attempts") or push.attempts)
                push.status, push.error = "failed", rec.get("error")
            elif kind == "delivered":
                push.attempts = int(rec.get("attempt") or push.attempts + 1)
                push.status, push.error = "delivered", None
        self._pushes, self._size = pushes, size

    def _append(self, record: dict[str, Any]) -> None:
        private_dir(self.path.parent)
        append_line(self.path, orjson.dumps({**record, "at": format_ts(utc_now())}))
        self._size = -1

    def enqueue(self, alert: dict[str, Any], channels: Iterable[str]) -> int:
        """Owe ``alert`` to each channel once (a second call is a no-op); returns how
        many pushes were queued."""
        queued = 0
        with self._exclusive():
            for channel in channels:
                if (alert["id"], channel) in self._pushes:
                    continue
                self._append(
                    {
                        "kind": "queued",
                        "id": alert["id"],
                        "channel": channel,
                        "alert": alert,
                        "retry_at": self.clock(),
                    }
                )
                queued += 1
            self._refresh()
        return queued

    def claim_due(self, channels: Iterable[str], limit: int = 20) -> list[Push]:
        """Take the pushes due now on the given channels (claimed for ``CLAIM_S``)."""
        wanted = set(channels)
        now = self.clock()
        with self._exclusive():
            due = [
                p
                for p in self._pushes.values()
                if p.status == "pending"
                and p.channel in wanted
                and p.retry_at <= now
                and p.claimed_until <= now
            ]
            due.sort(key=lambda p: p.retry_at)
            for push in due[:limit]:
                self._claim(push, now)
            self._refresh()
            return [self._pushes[(p.id, p.channel)] for p in due[:limit]]

    def _claim(self, push: Push, now: float, bound_s: float = 0.0) -> None:
        hold = max(self.claim_s, bound_s + CLAIM_MARGIN_S) if bound_s else self.claim_s
        push.claimed_until = now + hold
        push.claimed_by = self._owner
        self._append({"kind": "claimed", "id": push.id, "channel": push.channel,
                      "until": push.claimed_until, "by": self._owner})  # fmt: skip

    def renew(self, push: Push, *, bound_s: float = 0.0) -> Push | None:
        """``push`` held for another claim's time, just before an attempt bounded at
        ``bound_s`` (the claim covers it and ``CLAIM_MARGIN_S``, so it cannot lapse
        mid-attempt); None when it is no longer this sender's to try: delivered or given
        up meanwhile, not due, or claimed by another sender after this one's claim
        lapsed (a second delivery)."""
        now = self.clock()
        with self._exclusive():
            current = self._pushes.get((push.id, push.channel))
            if current is None or current.status != "pending" or current.retry_at > now:
                return None
            if current.claimed_by != self._owner and current.claimed_until > now:
                return None
            self._claim(current, now, bound_s)
            self._refresh()
            return self._pushes[(push.id, push.channel)]

    def next_due(self, channels: Iterable[str]) -> float | None:
        """When the earliest pending push on these channels is due (epoch seconds)."""
        wanted = set(channels)
        with self._lock:
            self._refresh()
            times = [
                max(p.retry_at, p.claimed_until)
                for p in self._pushes.values()
                if p.status == "pending" and p.channel in wanted
            ]
        return min(times) if times else None

    def delivered(self, push: Push) -> None:
        with self._lock:
            self._append(
                {
                    "kind": "delivered",
                    "id": push.id,
                    "channel": push.channel,
                    "attempt": push.attempts + 1,
                }
            )

    def failed(self, push: Push, error: str, *, retry_at: float | None) -> None:
        """One more failed attempt; ``retry_at`` None: the last one (given up)."""
        with self._lock:
            attempt = push.attempts + 1
            if retry_at is None:
                self._append(
                    {
                        "kind": "gave_up",
                        "id": push.id,
                        "channel": push.channel,
                        "attempts": attempt,
                        "error": error,
                    }
                )
            else:
                self._append(
                    {
                        "kind": "failed",
                        "id": push.id,
                        "channel": push.channel,
                        "attempt": attempt,
                        "error": error,
                        "retry_at": retry_at,
                    }
                )

    def statuses(self) -> dict[str, list[dict[str, Any]]]:
        """Per alert id, the state of each of its pushes."""
        with self._lock:
            self._refresh()
            out: dict[str, list[dict[str, Any]]] = {}
            for push in self._pushes.values():
                out.setdefault(push.id, []).append(push.public())
            return out

    def get(self, aid: str, channel: str) -> Push | None:
        with self._lock:
            self._refresh()
            return self._pushes.get((aid, channel))


_OUTBOXES: dict[Path, Outbox] = {}
_OUTBOXES_LOCK = threading.Lock()


def outbox(home: Path) -> Outbox:
    """One ``Outbox`` per home in this process (they share its lock)."""
    key = Path(home).resolve()
    with _OUTBOXES_LOCK:
        if key not in _OUTBOXES:
            _OUTBOXES[key] = Outbox(key)
        return _OUTBOXES[key]
