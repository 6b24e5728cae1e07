"""Reading the chain fast on PostgreSQL: ``COPY … TO STDOUT`` rows, checked in parallel.

``ChainChecker.feed`` is the reference: it takes decoded rows and names the first
failure. ``CopyChecker`` takes the raw text rows of ``COPY (SELECT …) TO STDOUT`` (one
round trip, no per-value decoding in the driver) and keeps ``feed``'s exact verdicts:
on its fast path each row is checked (seq, prev-hash link, SHA-256 over the stored
body bytes, body's seq, the event's MAC, indexed columns) and any row that is not plainly right is
decoded exactly and handed to ``feed``, which decides and names the reason. The text
form is unambiguous: every tab, newline and backslash inside a value is escaped and
NULL is ``\\N``, so splitting on raw tabs and newlines is exact.

Ranges of seqs are checked by several processes that import the same exported
snapshot, so together they see exactly what one transaction would. Each range starts
from the stored hash of the row before it; the range before checked that row's stored
hash against its recomputed one and that it ended there, which links the ranges.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import os
import re
import subprocess
import sys
import threading
from binascii import hexlify
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

import orjson

from audit.chain import ChainChecker, Failure, fast_index_of
from audit.signing import mac_states
from audit.store import ROW_COLUMNS as COLUMNS
from catalog.pg_session import PG_SEARCH_PATH

_SELECT = ",".join(COLUMNS)
_ESCAPE = re.compile(rb"\\(.)", re.DOTALL)
_UNESCAPE = {b"b": b"\b", b"f": b"\f", b"n": b"\n", b"r": b"\r", b"t": b"\t", b"v": b"\v"}
_BOOL = {"t": True, "f": False}
_CACHE_MAX = 50_000
BLOCK_ROWS = 256  # rows handed from the COPY stream to the check at a time
_SNAPSHOT_ID = re.compile(r"[0-9A-Fa-f-]+")
# Planner settings for the scans: an index scan in seq order (stale statistics can
# otherwise pick a parallel seq scan plus sort, and JIT compilation) on every range.
SESSION = (
    "SET client_encoding = 'UTF8'",
    "SET jit = off",
    "SET max_parallel_workers_per_gather = 0",
    "SET enable_sort = off",
)


def _unescape(value: bytes) -> bytes:
    """One value of COPY's text format, as stored (``\\N`` is handled by the caller)."""
    return _ESCAPE.sub(lambda m: _UNESCAPE.get(m.group(1), m.group(1)), value)


def _value(raw: bytes) -> str | None:
    if raw == b"\\N":
        return None
    return (_unescape(raw) if b"\\" in raw else raw).decode("utf-8")


def decode_row(line: bytes) -> tuple[Any, ...]:
    """A COPY text row (no newline) as the driver would return it."""
    raw = line.split(b"\t")
    if len(raw) != len(COLUMNS):
        raise ValueError(f"COPY row has {len(raw)} fields")
    values: list[Any] = [_value(v) for v in raw]
    values[0] = int(values[0])
    last = values[-1]
    if last is not None and last not in _BOOL:
        raise ValueError(f"not a boolean in COPY row: {last!r}")
    values[-1] = None if last is None else _BOOL[last]
    return tuple(values)


@dataclass
class CopyChecker(ChainChecker):
    """``ChainChecker`` over raw COPY text rows of ``ROW_COLUMNS`` (``with_mac`` is
    implied); same verdicts, about 4x cheaper."""

    _tails: dict[bytes, tuple[Any, ...]] = field(default_factory=dict)
    _partial: bytes = b""

    def feed_copy(self, chunks: Iterable[bytes | memoryview]) -> bool:
        """Check COPY output (any chunking); False once a failure is found.

        The loop is the hot path (millions of rows): state lives in locals, each row is
        judged by ``_plain_row`` and only a row that is not plainly right leaves it
        (``_decide``)."""
        if self.failure is not None:
            return False
        plain = _plain_row(self.mac_key, self.mac_from, self.check_index, self._tails)
        want = self.want
        expect, prev = self._expect, self._prev
        prev_hex = self._prev_hex.encode()
        count = self.count
        try:
            for block in self._blocks(chunks):
                for line in block:
                    hashed = plain(line, expect, prev, prev_hex)
                    if hashed is None:
                        # the reference decides (and names the reason) on decoded values
                        self._expect, self._prev, self.count = expect, prev, count
                        self._prev_hex = prev_hex.decode()
                        if not self._decide(line[:-1]):
                            return False
                        expect, prev, count = self._expect, self._prev, self.count
                        prev_hex = self._prev_hex.encode()
                        continue
                    prev, prev_hex = hashed
                    if expect in want:
                        self.hashes_at[expect] = prev_hex.decode()
                    expect += 1
                    count += 1
        finally:
            self._expect, self._prev, self.count = expect, prev, count
            self._prev_hex = prev_hex.decode()
            self.last_seq = expect - 1
        return True

    def _blocks(self, chunks: Iterable[bytes | memoryview]) -> Iterator[list[bytes]]:
        """Whole rows, each with its newline, a block at a time, from chunks cut
        anywhere; the unfinished tail waits in ``_partial``.

        psycopg hands over one row per chunk: such a chunk is taken as it is (one copy,
        one ``find``); any other cut goes through ``_split``."""
        block: list[bytes] = []
        for chunk in chunks:
            data = bytes(chunk)
            if not self._partial and data.find(b"\n") == len(data) - 1:
                block.append(data)
            else:
                block += self._split(data)
            if len(block) >= BLOCK_ROWS:
                yield block
                block = []
        if block:
            yield block

    def _split(self, data: bytes) -> list[bytes]:
        lines = (self._partial + data).split(b"\n")
        self._partial = lines.pop()
        return [line + b"\n" for line in lines]

    def __post_init__(self) -> None:
        super().__post_init__()
        self.with_mac = True

    def _decide(self, line: bytes) -> bool:
        """A row the fast path doubts, decoded exactly and judged by ``feed``."""
        try:
            row = decode_row(line)
        except (ValueError, UnicodeDecodeError):
            self._fail(self._expect, "hash mismatch", "the row cannot be read")
            return False
        return self.feed([row])

    def finish(self) -> None:
        """The stream ended: a row cut short is a failure, not silently dropped."""
        if self.failure is None and self._partial:
            try:
                row = decode_row(self._partial)
            except (ValueError, UnicodeDecodeError):
                self._fail(self._expect, "hash mismatch", "the last row is cut short")
                return
            self.feed([row])


PlainRow = Callable[[bytes, int, bytes, bytes], "tuple[bytes, bytes] | None"]


def _plain_row(
    mac_key: bytes | None,
    mac_from: int | None,
    check_index: bool,
    tails: dict[bytes, tuple[Any, ...]],
) -> PlainRow:
    """``plain(line, seq, prev, prev_hex)``: the row's chain hash (raw, hex) if the COPY
    row (``line``, with its newline) is plainly event ``seq`` chained onto ``prev`` —
    prev-hash link, SHA-256 over the stored body bytes, a JSON object naming ``seq``,
    the event's MAC, the indexed columns the body implies — else None (``feed`` then
    decides and names why).

    The MAC runs from the key's precomputed HMAC states (``audit.signing.mac_states``:
    two compressions per event instead of four); decoded indexed columns are cached in
    ``tails`` (they repeat a lot)."""
    sha256, loads, decode_error = hashlib.sha256, orjson.loads, orjson.JSONDecodeError
    states = None if mac_key is None else mac_states(mac_key)

    def plain(line: bytes, seq: int, prev: bytes, prev_hex: bytes) -> tuple[bytes, bytes] | None:
        try:
            seq_b, prev_b, hash_b, body, mac_b, ts_b, tail = line.split(b"\t", 6)
        except ValueError:
            return None
        if prev_b != prev_hex or seq_b != b"%d" % seq:
            return None
        if b"\\" in body:
            body = _unescape(body)
        raw = sha256(prev + body).digest()
        hex_hash = hexlify(raw)
        try:
            parsed = loads(body) if hex_hash == hash_b else None
        except decode_error:
            return None
        if type(parsed) is not dict or parsed.get("seq") != seq:
            return None
        if mac_b == b"\\N":
            if mac_from is not None and seq >= mac_from:
                return None
        elif states is not None:
            inner, outer = states[0].copy(), states[1].copy()
            inner.update(seq.to_bytes(8, "big") + raw)
            outer.update(inner.digest())
            if not hmac.compare_digest(mac_b, hexlify(outer.digest())):
                return None
        if check_index:
            values = tails.get(tail)
            if values is None:
                if len(tails) >= _CACHE_MAX:
                    tails.clear()
                values = tails[tail] = _tail(tail[:-1])
            body_index = fast_index_of(parsed)
            ts = _value(ts_b) if b"\\" in ts_b else ts_b.decode()
            if body_index[1:] != values or body_index[0] != ts:
                return None
        return raw, hex_hash

    return plain


def _tail(raw: bytes) -> tuple[Any, ...]:
    """The indexed columns after ``ts`` (exactly decoded; cached: they repeat a lot)."""
    values: list[Any] = [_value(v) for v in raw.split(b"\t")]
    if values:
        last = values[-1]
        values[-1] = None if last is None else _BOOL.get(last, last)
    return tuple(values)


# -- one range ---------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RangeTask:
    lo: int
    hi: int
    want: frozenset[int]
    check_index: bool
    mac_from: int | None = None  # the first MAC'd seq of the whole chain


@dataclass(slots=True)
class RangeOutcome:
    lo: int
    hi: int
    count: int = 0
    last_seq: int = 0
    failure: Failure | None = None
    hashes_at: dict[int, str] = field(default_factory=dict)


def scan_range(conn: Any, task: RangeTask, mac_key: bytes | None = None) -> RangeOutcome:
    """Check seqs ``lo..hi`` on ``conn`` (inside the caller's snapshot transaction);
    MACs with ``mac_key`` (``audit.signing.EventMac``), their presence without it."""
    out = RangeOutcome(task.lo, task.hi, last_seq=task.lo - 1)
    start_prev = "0" * 64
    with conn.cursor() as cur:
        if task.lo > 1:
            cur.execute("SELECT hash FROM audit_events WHERE seq = %s", (task.lo - 1,))
            row = cur.fetchone()
            if row is None:
                out.failure = Failure(task.lo - 1, "gap", f"seq {task.lo - 1} is missing")
                return out
            start_prev = row[0]
        checker = CopyChecker(
            start_seq=task.lo, start_prev=start_prev, want=set(task.want),
            check_index=task.check_index, mac_key=mac_key, mac_from=task.mac_from,
        )  # fmt: skip
        sql = (
            f"COPY (SELECT {_SELECT} FROM audit_events WHERE seq >= {int(task.lo)} "
            f"AND seq <= {int(task.hi)} ORDER BY seq) TO STDOUT"
        )
        with cur.copy(sql) as copy:
            if not checker.feed_copy(copy):
                for _ in copy:  # the connection is usable again only at the end
                    pass
        checker.finish()
    out.count, out.last_seq, out.failure = checker.count, checker.last_seq, checker.failure
    out.hashes_at = checker.hashes_at
    if out.failure is None and out.last_seq < task.hi:  # rows missing at the range's end
        out.failure = Failure(out.last_seq + 1, "gap", f"seq {out.last_seq + 1} is missing")
    return out


def begin_snapshot(conn: Any, snapshot: str | None = None) -> None:
    """Start a read-only repeatable-read transaction on an idle connection, in
    ``snapshot`` (exported by another one) if given, with the scan settings."""
    import psycopg  # a PostgreSQL verification's: not every process that imports audit.verify

    conn.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
    conn.read_only = True
    for statement in SESSION:
        conn.execute(statement)
    if snapshot is not None:
        if not _SNAPSHOT_ID.fullmatch(snapshot):
            raise ValueError(f"not a snapshot id: {snapshot!r}")
        conn.execute(f"SET TRANSACTION SNAPSHOT '{snapshot}'")


# -- several processes ---------------------------------------------------------------


def scan_parallel(
    conn: Any,
    conninfo: str,
    snapshot: str,
    ranges: list[RangeTask],
    processes: int,
    mac_key: bytes | None = None,
) -> list[RangeOutcome]:
    """Check ``ranges`` in this process (on ``conn``) and in ``processes - 1`` helper
    processes (``python -m audit.scan``), all in ``snapshot``; whoever is free takes the
    next range, so a slow or late-starting process does not hold the others up.

    Helpers are plain subprocesses (not ``multiprocessing``): nothing depends on how
    the calling program's main module is written. Each is fed over a pipe by a thread
    here that only waits on I/O. The MAC key goes to the helpers over that pipe (never
    on a command line or in the environment, where other users could read it)."""
    pending = deque(ranges)
    lock = threading.Lock()
    outcomes: list[RangeOutcome] = []
    errors: list[str] = []

    def take() -> RangeTask | None:
        with lock:
            return pending.popleft() if pending and not errors else None

    def serve(proc: subprocess.Popen[bytes]) -> None:
        stdin, stdout = proc.stdin, proc.stdout
        try:
            if stdin is None or stdout is None:
                raise RuntimeError("no pipe to the helper")
            hello = {"conninfo": conninfo, "snapshot": snapshot,
                     "mac_key": None if mac_key is None else mac_key.hex()}  # fmt: skip
            _send(stdin, hello)
            while (task := take()) is not None:
                _send(stdin, _task_message(task))
                reply = orjson.loads(stdout.readline() or b"null")
                if not isinstance(reply, dict) or "error" in reply:
                    raise RuntimeError(reply.get("error") if reply else "it ended")
                outcomes.append(_outcome_from(reply))
        except (OSError, orjson.JSONDecodeError, RuntimeError, KeyError, TypeError) as exc:
            errors.append(f"verification process failed: {exc}")
        finally:
            if stdin is not None:
                with contextlib.suppress(OSError):
                    stdin.close()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()

    env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)}
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "audit.scan"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            env=env,
        )
        for _ in range(processes - 1)
    ]
    threads = [threading.Thread(target=serve, args=(proc,), daemon=True) for proc in procs]
    for thread in threads:
        thread.start()
    try:
        while (task := take()) is not None:
            outcomes.append(scan_range(conn, task, mac_key))
    finally:
        for thread in threads:
            thread.join()
    if errors:
        raise RuntimeError(errors[0])
    if len(outcomes) != len(ranges):
        raise RuntimeError("verification ended with ranges unchecked")
    return sorted(outcomes, key=lambda o: o.lo)


def _send(pipe: Any, message: dict[str, Any]) -> None:
    pipe.write(orjson.dumps(message) + b"\n")
    pipe.flush()


def _task_message(task: RangeTask) -> dict[str, Any]:
    return {"lo": task.lo, "hi": task.hi, "want": sorted(task.want), "index": task.check_index,
            "mac_from": task.mac_from}  # fmt: skip


def _outcome_message(out: RangeOutcome) -> dict[str, Any]:
    failure = out.failure
    return {
        "lo": out.lo,
        "hi": out.hi,
        "count": out.count,
        "last_seq": out.last_seq,
        "failure": None if failure is None else [failure.seq, failure.reason, failure.detail],
        "hashes_at": [[seq, h] for seq, h in out.hashes_at.items()],
    }


def _outcome_from(msg: dict[str, Any]) -> RangeOutcome:
    failure = msg["failure"]
    return RangeOutcome(
        lo=int(msg["lo"]),
        hi=int(msg["hi"]),
        count=int(msg["count"]),
        last_seq=int(msg["last_seq"]),
        failure=None if failure is None else Failure(int(failure[0]), failure[1], failure[2]),
        hashes_at={int(seq): str(h) for seq, h in msg["hashes_at"]},
    )


def _helper() -> None:
    """``python -m audit.scan``: check the ranges the parent sends, one JSON per line."""
    import psycopg

    replies = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)  # anything else printed goes to stderr, not into the replies
    requests = sys.stdin.buffer
    first = requests.readline()
    if not first:  # the parent went away before sending anything
        return
    hello = orjson.loads(first)
    key = None if hello.get("mac_key") is None else bytes.fromhex(hello["mac_key"])
    try:
        conn = psycopg.connect(hello["conninfo"], connect_timeout=10, options=PG_SEARCH_PATH)
        begin_snapshot(conn, hello["snapshot"])
    except (psycopg.Error, ValueError) as exc:
        _send(replies, {"error": f"cannot open the snapshot: {exc}"})
        return
    try:
        for line in requests:
            msg = orjson.loads(line)
            task = RangeTask(msg["lo"], msg["hi"], frozenset(msg["want"]), msg["index"],
                             msg.get("mac_from"))  # fmt: skip
            try:
                reply = _outcome_message(scan_range(conn, task, key))
            except Exception as exc:  # reported to the parent, which fails the verify
                reply = {"error": f"{type(exc).__name__}: {exc}"}
            _send(replies, reply)
    finally:
        conn.close()


if __name__ == "__main__":
    _helper()
