"""The background check of the chain head against every witness; seals on evidence.

Every ``interval_s`` (and once at start) the monitor compares the database with:
- the local witness file: every checkpoint added since the last tick, and the newest
  one on every tick, must still be in the database — the event at its seq with its
  hash, and the checkpoint row itself (unless the epoch made it witness-only);
- each remote witness's newest countersigned checkpoint of this gateway: its envelope
  must verify with this gateway's own keys (a witness cannot make one up), its epoch
  may not be ahead of ours, and the database must hold its (seq, hash). A NATS stream
  witness answers its highest checkpoint the same way, and raises ``WitnessEvidence``
  when a checkpoint signed by this gateway went backwards in the stream (or the stream
  lost one): that seals too (``audit.witness_nats``).

Behind each tick, a share of it walks the chain between checkpoints (``audit.sweep``:
no event missing below the head, and window after window verified as ``sluice audit
verify`` does), so a row deleted or edited between two checkpoints is evidence too.

Any mismatch seals (``SealStore.seal``). An unreachable database or witness is not
evidence: it is reported in ``status()`` and the next tick tries again. Truncating the
witnessed part of the chain is therefore detected within one interval, and the writer
detects it even sooner when it next appends (see ``GroupCommitWriter._check_head``).
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from audit import witness
from audit.lazy_log import get_logger
from audit.seal import SealStore
from audit.store import AuditStore
from audit.sweep import ChainSweep
from audit.witness_client import WitnessSender
from audit.witness_envelope import signed_by_sender
from audit.witness_errors import WitnessEvidence
from catalog.errors import Unavailable

log = get_logger("sluice.audit")
CHUNK = 500


class Monitor:
    def __init__(
        self,
        *,
        store: AuditStore,
        seal: SealStore,
        witness_file: Path,
        public_keys: Callable[[], dict[str, str]],
        sender: WitnessSender | None,
        interval_s: float,
    ) -> None:
        self.store = store
        self.seal = seal
        self.tail = witness.WitnessTail(witness_file)
        self.public_keys = public_keys
        self.sender = sender
        self.interval_s = interval_s
        self.latest_local: dict[str, Any] | None = None
        self.remote: dict[str, dict[str, Any]] = {}
        self.head: tuple[int, str | None] | None = None
        self.last_check: float | None = None
        self.last_error: str | None = None
        self.checks = 0
        self.sweep = ChainSweep(store, seal.superseded, seal.accepted)
        self._stop = threading.Event()
        self._conn: Any = None
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="audit-monitor", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(max(5.0, self.interval_s * 3))
        self._close()

    def new_epoch(self) -> None:
        """The witness file was archived: forget its checkpoints, read the new one."""
        self.tail = witness.WitnessTail(self.tail.path)
        self.latest_local = None
        self.remote = {}

    def _run(self) -> None:
        while not self._stop.wait(self.interval_s):
            self.check(remote=True)

    def _close(self) -> None:
        if self._conn is not None:
            with contextlib.suppress(*self.store.driver_errors):
                self._conn.close()
            self._conn = None

    # -- one check -----------------------------------------------------------------

    def check(self, *, remote: bool) -> str | None:
        """Compare once; returns the seal reason if this check sealed."""
        self.seal.refresh()
        if self.seal.sealed:
            return None
        failures: tuple[type[Exception], ...] = (Unavailable, *self.store.driver_errors)
        try:
            if self._conn is None:
                self._conn = self.store.connect(reader=True)
            problem = self._check_local()
            if problem is None and remote:
                problem = self._check_remote()
            if problem is None and self.head is not None:
                problem = self.sweep.step(self._conn, self.head[0])
            self.last_error = None
        except failures as exc:
            self.last_error = str(exc)
            self._close()
            return None
        finally:
            self.checks += 1
            self.last_check = time.monotonic()
        if problem is None:
            return None
        reason, evidence = problem
        self.seal.seal(reason, evidence)
        return reason

    def _check_local(self) -> tuple[str, dict[str, Any]] | None:
        fresh = self.tail.new()
        if fresh:
            newest = max(fresh, key=lambda c: int(c["seq"]))
            if self.latest_local is None or newest["seq"] >= self.latest_local["seq"]:
                self.latest_local = newest
        todo = list(fresh)
        if self.latest_local is not None:
            todo.append(self.latest_local)
        return self._compare(todo, "local witness file", need_checkpoint=True)

    def _check_remote(self) -> tuple[str, dict[str, Any]] | None:
        if self.sender is None:
            return None
        import httpx  # loaded with the sender's clients; not by a log without witnesses

        mine = self.seal.epoch.number
        keys = self.public_keys()
        answers = self.sender.latest_of_all()  # asked at once: one bound, not one each
        for url in self.sender.urls:
            found = answers[url]
            if isinstance(found, WitnessEvidence):
                self.remote[url] = {"ok": False, "error": found.reason}
                return found.reason, found.evidence
            if isinstance(found, httpx.HTTPError | ValueError):
                self.remote[url] = {"ok": False, "error": f"{type(found).__name__}: {found}"}
                continue
            if isinstance(found, Exception):
                raise found  # as before: what the check's caller handles (or not)
            if found is None:
                self.remote[url] = {"ok": True, "seq": None}
                continue
            cp = found.get("checkpoint") or {}
            epoch = found.get("epoch")
            if type(epoch) is not int or not signed_by_sender(found, cp, keys, self.sender.sender):
                self.remote[url] = {"ok": False, "error": "answer not signed by this gateway"}
                continue
            self.remote[url] = {"ok": True, "seq": cp["seq"], "epoch": epoch}
            if epoch > mine:
                return (f"witness {url} holds epoch {epoch}, this gateway is at {mine}",
                        {"witness": url, "epoch": epoch})  # fmt: skip
            if epoch < mine:
                continue  # witnessed before the last unseal: superseded
            problem = self._compare([cp], f"witness {url}", need_checkpoint=False)
            if problem is not None:
                return problem
        return None

    def _compare(
        self, checkpoints: Iterable[dict[str, Any]], source: str, *, need_checkpoint: bool
    ) -> tuple[str, dict[str, Any]] | None:
        cps = {int(c["seq"]): str(c["hash"]) for c in checkpoints}
        self.head = self.store.read_head(self._conn)
        if not cps:
            return None
        void = self.seal.superseded()
        seqs = sorted(cps)
        events = self._hashes("audit_events", seqs)
        stored = self._hashes("audit_checkpoints", seqs) if need_checkpoint else {}
        for seq in seqs:
            want = cps[seq]
            evidence = {"source": source, "witnessed_seq": seq, "witnessed_hash": want,
                        "head_seq": self.head[0], "head_hash": self.head[1]}  # fmt: skip
            if seq > self.head[0]:
                return (f"truncated: {source} has seq {seq}, the database head is "
                        f"{self.head[0]}", evidence)  # fmt: skip
            if seq not in events:
                return f"gap: witnessed event {seq} is missing ({source})", evidence
            if events[seq] != want:
                return f"hash at witnessed seq {seq} differs ({source})", evidence
            witness_only = any(lo < seq <= hi for lo, hi in void)
            if need_checkpoint and not witness_only and stored.get(seq) != want:
                return f"missing checkpoint: witnessed seq {seq} ({source})", evidence
        return None

    def _hashes(self, table: str, seqs: list[int]) -> dict[int, str]:
        out: dict[int, str] = {}
        for start in range(0, len(seqs), CHUNK):
            part = seqs[start : start + CHUNK]
            marks = ",".join([self.store.p] * len(part))
            sql = f"SELECT seq, hash FROM {table} WHERE seq IN ({marks})"
            out.update((int(s), h) for s, h in self.store.fetch_all(self._conn, sql, part))
        return out

    def status(self) -> dict[str, Any]:
        local = self.latest_local
        return {
            "head": None if self.head is None else {"seq": self.head[0], "hash": self.head[1]},
            "local": {
                "kind": "file",
                "path": str(self.tail.path),
                "seq": None if local is None else local["seq"],
                "hash": None if local is None else local["hash"],
            },
            "remote": dict(self.remote),
            "last_check_age_s": None
            if self.last_check is None
            else round(time.monotonic() - self.last_check, 3),
            "error": self.last_error,
        }
