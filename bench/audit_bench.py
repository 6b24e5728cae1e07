"""Scenario 4: audit appends per second (one process, four processes on one PostgreSQL,
group commit, durable settings), single-append latency, and verification rate over
1,000,000 events.

Each figure has a baseline measured in the same run on the same database and disk, so
the target is a ratio that travels between machines (the same code measured 25k and
8.7k appends/s on two machines):
- appends/s against a bare loop of one INSERT of the same serialised bytes and one
  COMMIT per event, one connection, the same durability (``bare_insert_commit``);
- verification against chaining SHA-256 over the same stored bytes with ``hashlib`` in
  one process (``hashlib_chain``): what verification cannot go below without giving up
  a check.
"""

from __future__ import annotations

import hashlib
import multiprocessing
import os
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import psycopg

from audit.events import prepare
from audit.follow import VerifiedFollower
from audit.follow_snapshot import Snapshots
from audit.log import AuditLog
from audit.verify import verify_database
from audit.writer import Pending
from bench import data
from bench.witness_bench import table, witness_cost
from catalog.db import migrate

VERIFY_EVENTS = 1_000_000
THREADS = 64


def event(i: int) -> dict[str, Any]:
    return {
        "type": "query.started", "actor": {"sub": "alice", "dept": None, "roles": ["analyst"]},
        "resource": "dataset:civil.dibao_recipients", "purpose": "supervision",
        "case_ref": "BENCH-1", "client": "127.0.0.1", "request_id": f"r{i}", "outcome": "started",
        "decision": {"allow": True, "reasons": ["allowed for purpose 'supervision'"],
                     "decision_id": f"d{i}"},
        "policy_version": "0" * 64,
        "details": {"resource_dept": "civil"},
    }  # fmt: skip


def _open(home: Path) -> AuditLog:
    return AuditLog.open(url=data.sa_url(data.AUDIT_DB), home=home, append_timeout_s=30)


def _hammer(log: AuditLog, seconds: float, threads: int) -> int:
    counts = [0] * threads
    end = time.perf_counter() + seconds

    def worker(k: int) -> None:
        i = 0
        while time.perf_counter() < end:
            log.append(event(i))
            i += 1
        counts[k] = i

    pool = [threading.Thread(target=worker, args=(k,)) for k in range(threads)]
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    return sum(counts)


def _process(args: tuple[str, float]) -> tuple[int, int, int]:
    """Appends, and batches committed on the optimistic path / that missed it."""
    home, seconds = args
    log = _open(Path(home))
    try:
        n = _hammer(log, seconds, THREADS)
    finally:
        log.close()
    return n, log.metrics.optimistic, log.metrics.optimistic_missed


def _latency(log: AuditLog, n: int = 500) -> dict[str, float]:
    times = []
    for i in range(n):
        t = time.perf_counter()
        log.append(event(i))
        times.append(time.perf_counter() - t)
    times.sort()
    return {"p50_ms": statistics.median(times) * 1000, "p99_ms": times[int(n * 0.99)] * 1000}


def _fill(log: AuditLog, total: int) -> None:
    """Top the store up to ``total`` events through the writer's own batch path."""
    writer = log._writer
    have = log.metrics.appended
    while have < total:
        batch = [Pending(prepared=prepare(event(i))) for i in range(min(5000, total - have))]
        for p in batch:
            p.claimed = True
        writer._commit_batch(batch)
        have += len(batch)


def run(seconds: float = 5.0) -> dict[str, Any]:
    data.recreate(data.AUDIT_DB)
    migrate(data.sa_url(data.AUDIT_DB))
    home = Path(tempfile.mkdtemp(prefix="sluice-bench-audit-"))
    out: dict[str, Any] = {}
    log = _open(home)
    try:
        out["append_latency"] = _latency(log)
        n = _hammer(log, seconds, THREADS)
        out["single_process"] = {"appends_per_s": n / seconds, "threads": THREADS,
                                 "largest_batch": log.metrics.largest_batch,
                                 "optimistic_batches": log.metrics.optimistic,
                                 "optimistic_missed": log.metrics.optimistic_missed}  # fmt: skip
    finally:
        log.close()
    # issue 12: the same hammer and single append, not witnessed and witnessed by a
    # gateway (HTTP) and by a NATS JetStream stream: witnessing must stay off the path
    out["witnessing"] = witness_cost(url=data.sa_url(data.AUDIT_DB), seconds=seconds,
                                     event=event,
                                     hammer=lambda lg, s: _hammer(lg, s, THREADS),
                                     keys_from=home)  # fmt: skip
    print(table(out["witnessing"]), file=sys.stderr, flush=True)
    with multiprocessing.get_context("spawn").Pool(4) as pool:
        t = time.perf_counter()
        homes = [data.replica_home(home / f"p{k}", of=home) for k in range(4)]
        counts = pool.map(_process, [(str(h), seconds) for h in homes])
        elapsed = max(time.perf_counter() - t, seconds)
    out["four_processes"] = {"appends_per_s": sum(c[0] for c in counts) / seconds,
                             "wall_s": elapsed, "optimistic_batches": sum(c[1] for c in counts),
                             "optimistic_missed": sum(c[2] for c in counts)}  # fmt: skip
    log = _open(home)
    try:
        t = time.perf_counter()
        _fill(log, VERIFY_EVENTS - _count())
        out["fill_s"] = time.perf_counter() - t
    finally:
        log.close()
    t = time.perf_counter()
    workers = min(4, os.cpu_count() or 1)  # verify_database's own default for 1M events
    result = verify_database(store=log.store, witness_file=log.witness_file, workers=workers)
    elapsed = time.perf_counter() - t
    out["verify"] = {"events": result.events, "ok": result.ok, "seconds": elapsed,
                     "processes": workers}  # fmt: skip
    out["verify"]["events_per_s"] = out["verify"]["events"] / elapsed
    out["follow_resume"] = follow_resume(log)
    out["hashlib_chain"] = hashlib_chain()
    out["bare_insert_commit"] = bare_insert_commit(seconds)
    return out


def follow_resume(log: AuditLog) -> dict[str, float]:
    """The approval index's first read in a new process: the walk from seq 1 against the
    resume from the snapshot it wrote (``audit.follow_snapshot``), over the whole store.
    The ratio is the target (``resume_speedup``); a trail with more requesters and
    entries makes the snapshot, and so the resume, larger."""
    from gateway.stewardship.grants.trail_facts import ApprovalFacts

    epoch = log.seal.epoch.number
    snapshots = Snapshots(log.store, lambda: epoch)
    walk = VerifiedFollower(log.store, ApprovalFacts(), log.seal.accepted_below, epoch=epoch)
    t = time.perf_counter()
    with walk.caught_up():
        pass
    walked = time.perf_counter() - t
    walk.snapshots = snapshots
    t = time.perf_counter()
    walk.persist()
    written = time.perf_counter() - t
    resumed = VerifiedFollower(log.store, ApprovalFacts(), log.seal.accepted_below,
                               snapshots=snapshots, epoch=epoch)  # fmt: skip
    t = time.perf_counter()
    with resumed.caught_up():
        pass
    resume = time.perf_counter() - t
    return {"events": walk.seq, "walk_s": walked, "events_per_s": walk.seq / walked,
            "snapshot_write_s": written, "resume_s": resume,
            "resume_speedup": walked / resume}  # fmt: skip


def bare_insert_commit(seconds: float = 3.0) -> dict[str, float]:
    """Commits/s of the plainest durable append: INSERT the same serialised event into a
    table with a primary key, COMMIT, repeat, on one connection."""
    body = prepare(event(0)).data.decode()  # stored as text, like audit_events.body
    with psycopg.connect(data.dsn(data.AUDIT_DB)) as conn:
        conn.execute("DROP TABLE IF EXISTS bench_bare")
        conn.execute("CREATE TABLE bench_bare (seq bigint PRIMARY KEY, body text NOT NULL)")
        conn.commit()
        n, times = 0, []
        end = time.perf_counter() + seconds
        while time.perf_counter() < end:
            t = time.perf_counter()
            conn.execute("INSERT INTO bench_bare VALUES (%s, %s)", (n, body))
            conn.commit()
            times.append(time.perf_counter() - t)
            n += 1
        conn.execute("DROP TABLE bench_bare")
        conn.commit()
    times.sort()
    return {"commits_per_s": n / sum(times), "p50_ms": statistics.median(times) * 1000,
            "bytes": len(body)}  # fmt: skip


def hashlib_chain(limit: int = 200_000) -> dict[str, float]:
    """Events/s of ``sha256(prev + body)`` over the first ``limit`` stored events' bytes
    (held in memory: no database time), one process."""
    with psycopg.connect(data.dsn(data.AUDIT_DB)) as conn:
        rows = conn.execute(
            "SELECT body FROM audit_events ORDER BY seq LIMIT %s", (limit,)
        ).fetchall()
    bodies = [str(r[0]).encode() for r in rows]
    sha256 = hashlib.sha256
    best = float("inf")
    for _ in range(3):
        prev = b"\0" * 32
        t = time.perf_counter()
        for body in bodies:
            prev = sha256(prev + body).digest()
        best = min(best, time.perf_counter() - t)
    return {"events": len(bodies), "events_per_s": len(bodies) / best}


def _count() -> int:
    with psycopg.connect(data.dsn(data.AUDIT_DB)) as conn:
        row = conn.execute("SELECT count(*) FROM audit_events").fetchone()
    return int(row[0]) if row else 0
