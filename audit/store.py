"""The audit tables through the raw DB-API drivers (sqlite3, psycopg 3).

The writer's hot path is one transaction per batch of events, so it talks to the
drivers directly: SQLAlchemy adds a per-row cost (``python -m bench.audit_design``
measures it) that a 10,000 events/s log cannot spare. Every connection is checked for
durable settings when it is opened (startup refuses a store that would lose
acknowledged events) and carries time bounds, so a stalled store fails the writer's
transaction instead of hanging it:
- SQLite: WAL, ``synchronous=FULL``, ``busy_timeout`` = the append bound;
- PostgreSQL: ``synchronous_commit=on`` (and the server's ``fsync`` must be on),
  ``lock_timeout`` and ``statement_timeout`` = the append bound, ``connect_timeout``.

Appends from several processes stay linear: SQLite's ``BEGIN IMMEDIATE`` takes the
database write lock; on PostgreSQL the transaction takes an advisory lock before it
reads the chain head.
"""

from __future__ import annotations

import contextlib
import functools
import math
import sqlite3
from collections.abc import Callable, Generator, Iterator, Sequence
from typing import TYPE_CHECKING, Any

import orjson

from audit.events import INDEX_COLUMNS
from audit.reader_pool import ReaderPool
from audit.signing import EventMac, KeyRows
from catalog.db_url import sqlite_file
from catalog.errors import SluiceError, Unavailable
from catalog.pg_session import PG_SEARCH_PATH

ADVISORY_KEY = 0x5A1C_E0A0  # "sluice audit": one chain per database
# the chain's own columns, then the indexed ones derived from the event (in this order)
EVENT_COLUMNS = ("seq", "prev_hash", "hash", "body", *INDEX_COLUMNS)
# what the writer inserts and verification reads: the chain's columns, the event's MAC
# (``audit.signing.EventMac``; NULL only for events written before MACs existed), then
# the indexed ones. EVENT_COLUMNS stays the public (exported, MAC-less) shape.
ROW_COLUMNS = ("seq", "prev_hash", "hash", "body", "mac", *INDEX_COLUMNS)
# an ``audit_keys`` row as ``KeyRows`` reads it
KEY_SELECT = "SELECT kid, algorithm, public_key, created_at, mac FROM audit_keys"
_HEAD_SQL = "SELECT seq, hash FROM audit_events ORDER BY seq DESC LIMIT 1"
_COPY_SQL = f"COPY audit_events ({','.join(ROW_COLUMNS)}) FROM STDIN"
_LOCK_SQL = "SELECT pg_advisory_xact_lock(%s)"
# A batch as one JSON array of rows (one parameter, which orjson builds far faster than
# psycopg's array dumpers build one array per column: bench.audit_design), so the
# insert can be pipelined.
_TYPES = ("bigint",) + ("text",) * 13 + ("boolean",)
_ROWS_SQL = (
    f"INSERT INTO audit_events ({','.join(ROW_COLUMNS)}) SELECT "
    + ",".join(f"(e->>{i})::{t}" for i, t in enumerate(_TYPES))
    + " FROM jsonb_array_elements(%s::jsonb) AS e"
)
# The optimistic insert: only if the chain head is still the one this process wrote
# (same seq and hash, nothing above it). Evaluated after the lock is granted, so no
# other writer can move the head between this check and the commit.
_IF_HEAD_TEXT = (
    _ROWS_SQL.replace("%s::jsonb", "%b::jsonb").encode()
    + b" WHERE (SELECT max(seq) FROM audit_events) = %d"
    b" AND EXISTS (SELECT 1 FROM audit_events WHERE seq = %d AND hash = %b)"
)
_CHECKPOINT_IF_TEXT = (
    b"INSERT INTO audit_checkpoints (seq, hash, ts, kid, signature) SELECT %b"
    b" WHERE EXISTS (SELECT 1 FROM audit_events WHERE seq = %d AND hash = %b)"
)
PIPELINE_ROWS = 1000

# psycopg (a tenth of ``sluice token``'s start-up, issue 17) is imported by a PostgreSQL
# store only. Each store catches its own driver's errors (``driver_errors``,
# ``write_errors``); the module's DRIVER_ERRORS and WRITE_ERRORS, both drivers' errors
# for code that holds no store, import psycopg when first read.
_SQLITE_DRIVER_ERRORS: tuple[type[Exception], ...] = (sqlite3.Error, OSError)
# SQLite TEXT as str, bytes that are not UTF-8 replaced (``connect``)
_LENIENT_TEXT = functools.partial(str, encoding="utf-8", errors="replace")
_SQLITE_WRITE_ERRORS: tuple[type[Exception], ...] = (SluiceError, sqlite3.Error, OSError)

if TYPE_CHECKING:
    DRIVER_ERRORS: tuple[type[Exception], ...]
    WRITE_ERRORS: tuple[type[Exception], ...]
else:

    def __getattr__(name: str) -> Any:
        if name not in {"DRIVER_ERRORS", "WRITE_ERRORS"}:
            raise AttributeError(f"module 'audit.store' has no attribute {name!r}")
        driver, write = _pg_errors()
        globals().update(DRIVER_ERRORS=driver, WRITE_ERRORS=write)
        return driver if name == "DRIVER_ERRORS" else write


def _pg_errors() -> tuple[tuple[type[Exception], ...], tuple[type[Exception], ...]]:
    """(driver errors, write errors) of a process that may talk to PostgreSQL."""
    import psycopg

    return ((sqlite3.Error, psycopg.Error, OSError),
            (SluiceError, sqlite3.Error, psycopg.Error, OSError))  # fmt: skip


class StoreNotDurable(Unavailable):
    """The store's settings could lose a committed event on a crash (``check_durable``).

    Its own type because ``AuditLog.open`` treats it unlike an unreachable store: a
    store that is down may come back (appends fail closed meanwhile), a store that is
    up but not durable must stop the gateway from starting. Same 503 and code as any
    ``Unavailable``."""


class AuditStore:
    """Connections and statements for one audit database (SQLite file or PostgreSQL)."""

    def __init__(self, url: str, *, timeout_s: float) -> None:
        self.url = url
        self.timeout_s = timeout_s
        # the deployment's event MAC key; the writer binds it (from its signer's key
        # ring) before it starts, so every verification through this store checks MACs
        self.event_mac: EventMac | None = None
        # this gateway's own public keys (its key ring; bound by ``AuditLog.open``): it
        # vouches for its own MAC-less key rows from before the upgrade (``KeyRows``)
        self.own_keys: Callable[[], dict[str, str]] | None = None
        # the seq from which this gateway's home knows every event is MAC'd
        # (``audit.mac_floor``): the boundary is never later, whatever the rows say
        self.mac_floor: int | None = None
        # the errors this store's driver raises (what its callers catch)
        self.driver_errors = _SQLITE_DRIVER_ERRORS
        self.write_errors = _SQLITE_WRITE_ERRORS
        path = sqlite_file(url)  # the embedded default, read without SQLAlchemy
        if path is not None:
            self.dialect = "sqlite"
            self._sqlite_path = path
            self.p = "?"
            return
        from sqlalchemy.engine import make_url  # any other URL: SQLAlchemy reads it

        parsed = make_url(url)
        self.dialect = "sqlite" if parsed.get_backend_name() == "sqlite" else "postgresql"
        if self.dialect == "sqlite":
            if not parsed.database or parsed.database == ":memory:":
                raise Unavailable("the audit store must be a durable file, not :memory:")
            self._sqlite_path = parsed.database
            self.p = "?"
        else:
            self._conninfo = parsed.set(drivername="postgresql").render_as_string(
                hide_password=False
            )
            self.p = "%s"
            self.driver_errors, self.write_errors = _pg_errors()
            self._readers = ReaderPool(lambda: self.connect(reader=True))

    @property
    def conninfo(self) -> str:
        """PostgreSQL connection string (for verification processes)."""
        if self.dialect != "postgresql":
            raise Unavailable("only a PostgreSQL audit store has a connection string")
        return self._conninfo

    # -- connections ---------------------------------------------------------------

    @contextlib.contextmanager
    def reading(self) -> Iterator[Any]:
        """A read connection for one read, or Unavailable: on PostgreSQL one of the few
        kept between reads (``audit.reader_pool``), on SQLite a new one, closed after."""
        if self.dialect == "postgresql":
            with self._readers.reading() as conn:
                yield conn
            return
        conn = self.connect(reader=True)
        try:
            yield conn
        finally:
            conn.close()

    def close_readers(self) -> None:
        """Close the read connections kept between reads (PostgreSQL; none on SQLite)."""
        if self.dialect == "postgresql":
            self._readers.close()

    def connect(self, *, reader: bool = False) -> Any:
        """A new connection with durable settings and time bounds, or Unavailable.

        Writer connections also get a statement timeout; readers (verify, export) may
        stream for longer than any single append is allowed to take."""
        try:
            if self.dialect == "sqlite":
                conn: Any = sqlite3.connect(
                    self._sqlite_path,
                    isolation_level=None,
                    check_same_thread=False,
                    timeout=self.timeout_s,
                )
                if reader:
                    # bytes that are not UTF-8 (only an insider writes them) are read
                    # as text that matches no hash, so verification names the row: the
                    # driver's own decoding raised, which the monitor, verification and
                    # export took for an unreachable store (never sealed, no evidence
                    # export to unseal with: red team 18). Writers fail closed on it.
                    conn.text_factory = _LENIENT_TEXT
                conn.execute("PRAGMA journal_mode=WAL")
                conn.execute("PRAGMA synchronous=FULL")
                conn.execute(f"PRAGMA busy_timeout={int(self.timeout_s * 1000)}")
            else:
                import psycopg  # loaded by __init__ already (_pg_errors)

                ms = max(1, int(self.timeout_s * 1000))
                options = (f"-c synchronous_commit=on -c lock_timeout={ms} "
                           f"-c client_encoding=UTF8 {PG_SEARCH_PATH}")  # fmt: skip
                if not reader:
                    options += f" -c statement_timeout={max(ms * 5, 5000)}"
                conn = psycopg.connect(
                    self._conninfo,
                    connect_timeout=max(1, math.ceil(self.timeout_s)),
                    options=options,
                )
            self.check_durable(conn)
        except self.driver_errors as exc:
            raise Unavailable(f"audit store unreachable: {exc}") from exc
        return conn

    def check_durable(self, conn: Any) -> None:
        """Refuse settings under which a committed event could be lost on a crash."""
        if self.dialect == "sqlite":
            mode = conn.execute("PRAGMA journal_mode").fetchone()[0].lower()
            sync = int(conn.execute("PRAGMA synchronous").fetchone()[0])
            if mode in {"memory", "off"} or sync < 2:
                raise StoreNotDurable(
                    f"audit store not durable (journal={mode}, synchronous={sync})"
                )
            return
        with conn.cursor() as cur:
            cur.execute("SHOW fsync")
            fsync = cur.fetchone()[0]
            cur.execute("SHOW synchronous_commit")
            sync = cur.fetchone()[0]
        conn.rollback()
        if fsync != "on" or sync not in {"on", "local", "remote_write", "remote_apply"}:
            raise StoreNotDurable(
                f"audit store not durable (fsync={fsync}, synchronous_commit={sync})"
            )

    # -- the writer's transaction --------------------------------------------------

    def begin_locked(self, conn: Any) -> Any:
        """Start the append transaction holding the chain lock; returns a cursor."""
        if self.dialect == "sqlite":
            conn.execute("BEGIN IMMEDIATE")
            return conn.cursor()
        cur = conn.cursor()
        cur.execute(_LOCK_SQL, (ADVISORY_KEY,))
        return cur

    def begin_at_head(self, conn: Any) -> tuple[Any, int, str | None]:
        """``begin_locked`` + ``head`` in one round trip: (cursor, max seq, its hash).

        On PostgreSQL both statements go out in one pipeline; the head query starts
        (and takes its snapshot) only after the lock statement has returned, so it
        sees every batch committed by whoever held the lock before."""
        if self.dialect == "sqlite":
            cur = self.begin_locked(conn)
            return (cur, *self.head(cur))
        cur = conn.cursor()
        with conn.pipeline():
            cur.execute(_LOCK_SQL, (ADVISORY_KEY,))
            cur.execute(_HEAD_SQL)
            row = cur.fetchone()
        return (cur, 0, None) if row is None else (cur, int(row[0]), row[1])

    def commit(self, conn: Any) -> None:
        if self.dialect == "sqlite":
            conn.execute("COMMIT")
        else:
            conn.commit()

    def rollback(self, conn: Any) -> None:
        try:
            if self.dialect == "sqlite":
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
            else:
                conn.rollback()
        except self.driver_errors:
            pass

    def head(self, cur: Any) -> tuple[int, str | None]:
        """(max seq, its hash), or (0, None) for an empty chain."""
        cur.execute(_HEAD_SQL)
        row = cur.fetchone()
        return (0, None) if row is None else (int(row[0]), row[1])

    def read_head(self, conn: Any, *, in_snapshot: bool = False) -> tuple[int, str | None]:
        """``head`` on ``conn``: a read of its own, as ``fetch_all`` reads (on PostgreSQL
        the transaction ends after it); ``in_snapshot``, in ``conn``'s transaction, left
        open (verification reads one snapshot). The one trail-head SELECT: the export,
        verification, the seal's checks, the monitor and the status read it here."""
        if in_snapshot and self.dialect == "postgresql":
            with conn.cursor() as cur:
                return self.head(cur)
        rows = self.fetch_all(conn, _HEAD_SQL)
        return (0, None) if not rows else (int(rows[0][0]), rows[0][1])

    def mac_boundary(self, cur: Any, *, below: int | None = None) -> int | None:
        """The seq of the first event carrying a MAC (None: none does, a trail written
        before MACs existed). Every event from there on must carry a valid MAC; an
        insider cannot move it earlier (rows are never updated, seqs never reused).

        With ``below``: the *newest* MAC'd seq up to it instead, found at once on a MAC'd
        chain by searching back from the head; MACs are required from there on too, which
        is all the writer needs to judge the events at the head (full verification uses
        the first one).

        Never later than ``mac_floor`` (the home's record): an insider who strips every
        MAC (an UPDATE, the triggers bypassed) made the trail read as one from before
        MACs, a MAC-less event of theirs at the head with it (red team 43)."""
        if below is not None:
            p = self.p
            cur.execute(
                f"SELECT seq FROM audit_events WHERE seq <= {p} AND mac IS NOT NULL "
                f"ORDER BY seq DESC LIMIT 1",
                (below,),
            )
        else:
            cur.execute("SELECT min(seq) FROM audit_events WHERE mac IS NOT NULL")
        row = cur.fetchone()
        found = None if row is None or row[0] is None else int(row[0])
        floor = self.mac_floor
        if floor is None or (below is not None and floor > below):
            return found
        return floor if found is None else min(found, floor)

    def first_maced(self, conn: Any) -> int | None:
        """``mac_boundary`` in ``conn``'s snapshot (a cursor of its own)."""
        if self.dialect == "sqlite":
            cur = conn.cursor()
            try:
                return self.mac_boundary(cur)
            finally:
                cur.close()
        with conn.cursor() as cur:
            return self.mac_boundary(cur)

    def rows_between(self, cur: Any, lo: int, hi: int) -> list[tuple[Any, ...]]:
        """Rows ``lo..hi`` in ``ROW_COLUMNS`` order (the writer checks events it did not
        write before it chains onto them)."""
        p = self.p
        cur.execute(
            f"SELECT {','.join(ROW_COLUMNS)} FROM audit_events WHERE seq >= {p} AND seq <= {p} "
            f"ORDER BY seq",
            (lo, hi),
        )
        return [tuple(r) for r in cur.fetchall()]

    def hash_at(self, cur: Any, seq: int) -> str | None:
        p = self.p
        cur.execute(f"SELECT hash FROM audit_events WHERE seq = {p}", (seq,))
        row = cur.fetchone()
        return None if row is None else str(row[0])

    def has_event(self, cur: Any, seq: int, hash_hex: str) -> bool:
        """Whether the chain holds event ``seq`` with this hash (a commit that may or may
        not have happened before the connection broke)."""
        p = self.p
        cur.execute(f"SELECT 1 FROM audit_events WHERE seq = {p} AND hash = {p}", (seq, hash_hex))
        return cur.fetchone() is not None

    def insert_events(self, cur: Any, rows: Sequence[tuple[Any, ...]]) -> None:
        """One statement for the batch: COPY on PostgreSQL (faster than executemany:
        bench.audit_design)."""
        if self.dialect == "postgresql":
            with cur.copy(_COPY_SQL) as copy:
                for row in rows:
                    copy.write_row(row)
            return
        marks = ",".join([self.p] * len(ROW_COLUMNS))
        sql = f"INSERT INTO audit_events ({','.join(ROW_COLUMNS)}) VALUES ({marks})"
        cur.executemany(sql, rows)

    def append_if_head(
        self,
        conn: Any,
        head: tuple[int, str],
        rows: Sequence[tuple[Any, ...]],
        checkpoint: dict[str, Any] | None,
    ) -> bool:
        """PostgreSQL only: lock, insert ``rows`` if ``head`` is still the chain head,
        insert ``checkpoint`` if the rows went in, commit: one round trip plus the fsync.

        False if another writer moved the head: nothing was written (the empty
        transaction commits without a WAL flush) and the caller takes the slow path."""
        from psycopg import pq  # a PostgreSQL store's: loaded by __init__ already

        seq, hash_hex = head
        # One simple-protocol query holding the whole transaction: psycopg's pipeline
        # mode costs more Python per batch than the round trips it saves
        # (bench.audit_design compares the two).
        quote = pq.Escaping(conn.pgconn).escape_literal
        statements = [
            b"BEGIN; SELECT pg_advisory_xact_lock(%d)" % ADVISORY_KEY,
            _IF_HEAD_TEXT % (quote(orjson.dumps(rows)), seq, seq, quote(hash_hex.encode())),
        ]
        if checkpoint is not None:
            last = rows[-1]
            values = [checkpoint[k] for k in ("seq", "hash", "ts", "kid", "signature")]
            statements.append(
                _CHECKPOINT_IF_TEXT
                % (
                    b",".join(_literal(quote, v) for v in values),
                    int(last[0]),
                    quote(str(last[2]).encode()),
                )
            )
        statements.append(b"COMMIT")
        conn.autocommit = True  # the query's own BEGIN/COMMIT: no separate BEGIN trip
        try:
            with conn.cursor() as cur:
                cur.execute(b"; ".join(statements))
                cur.nextset()
                cur.nextset()  # BEGIN, the lock, then the insert
                inserted = cur.rowcount
        finally:
            if conn.pgconn.transaction_status == pq.TransactionStatus.IDLE:
                conn.autocommit = False
        if inserted == len(rows):
            return True
        if inserted == 0:
            return False
        raise Unavailable(f"audit append wrote {inserted} of {len(rows)} events")

    def insert_and_commit(
        self,
        conn: Any,
        cur: Any,
        rows: Sequence[tuple[Any, ...]],
        checkpoint: dict[str, Any] | None,
    ) -> None:
        """Insert the batch (and checkpoint) and commit; one round trip on PostgreSQL for
        batches up to ``PIPELINE_ROWS`` (COPY, two round trips, beyond: less server work)."""
        if self.dialect == "postgresql" and len(rows) <= PIPELINE_ROWS:
            with conn.pipeline():
                cur.execute(_ROWS_SQL, (_rows_json(rows),))
                if checkpoint is not None:
                    self.insert_checkpoint(cur, checkpoint)
                conn.commit()
            return
        self.insert_events(cur, rows)
        self.commit_with(conn, cur, checkpoint)

    def commit_with(self, conn: Any, cur: Any, checkpoint: dict[str, Any] | None) -> None:
        """Insert the checkpoint (if any) and commit, in one round trip on PostgreSQL."""
        if checkpoint is None:
            self.commit(conn)
        elif self.dialect == "sqlite":
            self.insert_checkpoint(cur, checkpoint)
            self.commit(conn)
        else:
            with conn.pipeline():
                self.insert_checkpoint(cur, checkpoint)
                conn.commit()

    def last_checkpoint_seq(self, cur: Any, *, at_most: int) -> int:
        """The newest checkpoint's seq at or below ``at_most`` (the head). A row above the
        head signs nothing that exists: the runtime role may INSERT checkpoint rows, and
        one copied far above the head had the timed checkpoint believe every head signed
        already, so the tail was never signed nor witnessed again (red team 34). Such a
        row fails verification (``audit.verify``); it decides nothing here."""
        cur.execute(f"SELECT max(seq) FROM audit_checkpoints WHERE seq <= {self.p}", (at_most,))
        row = cur.fetchone()
        return int(row[0]) if row and row[0] is not None else 0

    def insert_checkpoint(self, cur: Any, cp: dict[str, Any]) -> None:
        p = self.p
        cur.execute(
            f"INSERT INTO audit_checkpoints (seq, hash, ts, kid, signature) "
            f"VALUES ({p},{p},{p},{p},{p})",
            (cp["seq"], cp["hash"], cp["ts"], cp["kid"], cp["signature"]),
        )

    def publish_keys(self, conn: Any, keys: dict[str, str], created_at: str) -> None:
        """Record public keys (idempotent) so every process can verify every checkpoint;
        each row carries its MAC (``EventMac.key_tag``) when this store has the key."""
        p = self.p
        sql = (
            f"INSERT INTO audit_keys (kid, algorithm, public_key, created_at, mac) "
            f"VALUES ({p},'Ed25519',{p},{p},{p}) ON CONFLICT (kid) DO NOTHING"
        )
        mac = self.event_mac
        rows = [
            (kid, pub, created_at, None if mac is None else mac.key_tag(kid, "Ed25519", pub))
            for kid, pub in keys.items()
        ]
        try:
            if self.dialect == "sqlite":
                conn.execute("BEGIN IMMEDIATE")
            cur = conn.cursor()
            cur.executemany(sql, rows)
            self.commit(conn)
        except self.driver_errors as exc:
            self.rollback(conn)
            raise Unavailable(f"cannot publish audit keys: {exc}") from exc

    def key_rows(self, rows: list[tuple[Any, ...]]) -> KeyRows:
        """``rows`` read with ``KEY_SELECT``, sorted by what vouches for them."""
        own = self.own_keys() if self.own_keys is not None else {}
        return KeyRows(rows, self.event_mac, own)

    # -- reading -------------------------------------------------------------------

    def fetch_all(self, conn: Any, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        cur = conn.cursor()
        try:
            cur.execute(sql, tuple(params))
            return [tuple(r) for r in cur.fetchall()]
        finally:
            cur.close()
            if self.dialect == "postgresql":
                conn.rollback()

    def stream(
        self,
        conn: Any,
        sql: str,
        params: Sequence[Any] = (),
        chunk: int = 20_000,
        *,
        binary: bool = False,
    ) -> Generator[list[Any], None, None]:
        """Rows in chunks, through a server-side cursor on PostgreSQL (bounded memory);
        a generator, so a reader that stops early can close it (the cursor with it).

        ``binary`` fetches in PostgreSQL's binary format (same Python values; ~20%
        cheaper to decode for wide rows)."""
        if self.dialect == "postgresql":
            cur = conn.cursor(name="audit_stream", binary=binary)
            cur.itersize = chunk
        else:
            cur = conn.cursor()
        try:
            cur.execute(sql, tuple(params))
            while True:
                rows = cur.fetchmany(chunk)
                if not rows:
                    break
                yield rows
        finally:
            cur.close()
            if self.dialect == "postgresql":
                conn.rollback()


def _literal(quote: Callable[[bytes], bytes], value: Any) -> bytes:
    return b"%d" % value if type(value) is int else quote(str(value).encode())


def _rows_json(rows: Sequence[tuple[Any, ...]]) -> str:
    return orjson.dumps(rows).decode()
