"""Witnessing cost on the request path (issue 12), measured in the same run as the audit
append figure: the same append hammer and the same single durable append, on the same
PostgreSQL, not witnessed, witnessed by a remote gateway over HTTP (a real witness
served by uvicorn on a free port), and witnessed by a NATS JetStream stream (the
machine's NATS, a stream of its own, deleted afterwards).

Witnessing must stay off the request path: the writer only hands each checkpoint to
the sender thread (an assignment under a lock), which posts or publishes it. So the
figures to watch are ratios against the unwitnessed run: appends/s witnessed over not
witnessed (≈1.0×) and one durable append's p50 witnessed over not (≈1.0×), plus each
witness's lag (how far behind the head its newest acknowledged seq is when the hammer
stops). The runs go in the order none, HTTP, NATS, NATS, HTTP, none (an ABCCBA
design), and each configuration's figure is the mean of its two runs, so a steady
drift of the shared machine during the run cancels out; the two unwitnessed runs'
ratio is printed as the drift.

``python -m bench.witness_bench [--seconds S]`` runs it alone and prints the table.
"""

from __future__ import annotations

import argparse
import asyncio
import socket
import statistics
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import nats
import uvicorn
from fastapi import FastAPI

from audit.log import AuditLog
from audit.signing import KeyRing
from audit.witness_book import WitnessBook
from bench.data import replica_home
from gateway.web.routes import witness

NATS_SERVER = "nats://127.0.0.1:4222"
LATENCY_APPENDS = 300
Event = Callable[[int], dict[str, Any]]


def _witness_server(home: Path) -> tuple[str, uvicorn.Server, threading.Thread]:
    app = FastAPI()
    app.include_router(witness.router)
    # the bench's senders are new gateways: pinned on first use here (an operator's
    # explicit choice; off by default)
    book = WitnessBook(home=home, signer=KeyRing.in_home(home), name="bench-witness", tofu=True)
    app.state.services = SimpleNamespace(audit=SimpleNamespace(witness_book=book))
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    return f"http://127.0.0.1:{port}", server, thread


def _drop_stream(name: str) -> None:
    async def drop() -> None:
        nc = await nats.connect(NATS_SERVER)
        try:
            await nc.jetstream().delete_stream(name)
        except nats.errors.Error:
            pass  # never made (the run failed before its first checkpoint)
        finally:
            await nc.close()

    asyncio.run(drop())


def _p50_ms(log: AuditLog, event: Event, n: int = LATENCY_APPENDS) -> float:
    times = []
    for i in range(n):
        t = time.perf_counter()
        log.append(event(i))
        times.append(time.perf_counter() - t)
    return statistics.median(times) * 1000


def _one(
    *, url: str, home: Path, witnesses: list[str], hammer: Callable[[AuditLog, float], int],
    event: Event, seconds: float,
) -> dict[str, Any]:  # fmt: skip
    log = AuditLog.open(url=url, home=home, append_timeout_s=30, checkpoint_seconds=1.0,
                        witnesses=witnesses)  # fmt: skip
    try:
        p50 = _p50_ms(log, event)
        n = hammer(log, seconds)
        head = log.writer.floor[0]
        # what the witness had when the load stopped, before close() flushes the rest
        status = log.sender.statuses()[0] if log.sender is not None else None
    finally:
        log.close()
    row: dict[str, Any] = {"appends_per_s": n / seconds, "append_p50_ms": p50,
                           "checkpoints": log.metrics.checkpoints}  # fmt: skip
    if status is not None:
        row.update(kind=status["kind"], acked_seq=status["acked_seq"], head_seq=head,
                   lag=None if status["acked_seq"] is None else head - status["acked_seq"],
                   failures=status["failures"], last_error=status["last_error"])  # fmt: skip
    return row


def witness_cost(
    *,
    url: str,
    hammer: Callable[[AuditLog, float], int],
    event: Event,
    seconds: float,
    keys_from: Path | None = None,
) -> dict[str, Any]:
    """Each configuration's appends/s and single-append p50, and their ratios to the
    unwitnessed baseline (measured before and after the witnessed runs). Every run is a
    replica of ``keys_from``'s deployment (the one that wrote the trail so far)."""
    base = Path(tempfile.mkdtemp(prefix="sluice-bench-witness-"))
    origin = keys_from or base / "origin"
    url_witness, server, thread = _witness_server(base / "witness")
    stream = "sluice_bench_" + uuid.uuid4().hex[:10]
    witnesses = {"not_witnessed": [], "http": [url_witness],
                 "nats": [f"{NATS_SERVER}/{stream}"]}  # fmt: skip
    order = ["not_witnessed", "http", "nats", "nats", "http", "not_witnessed"]
    runs: dict[str, list[dict[str, Any]]] = {name: [] for name in witnesses}
    try:
        for k, name in enumerate(order):
            home = replica_home(base / f"{k}-{name}", of=origin)
            runs[name].append(_one(url=url, home=home,
                                   witnesses=witnesses[name], hammer=hammer, event=event,
                                   seconds=seconds))  # fmt: skip
    finally:
        server.should_exit = True
        thread.join(10)
        _drop_stream(stream)
    out: dict[str, Any] = {}
    for name, pair in runs.items():
        row = dict(pair[-1])  # the witness's state as of its last run
        for figure in ("appends_per_s", "append_p50_ms"):
            row[figure] = statistics.mean(r[figure] for r in pair)
        row["lag"] = max((r["lag"] for r in pair if r.get("lag") is not None), default=None)
        row["runs"] = pair
        out[name] = row
    base_row = out["not_witnessed"]
    first, last = runs["not_witnessed"]
    base_row["drift"] = last["appends_per_s"] / max(1e-9, first["appends_per_s"])
    for name in ("http", "nats"):
        row = out[name]
        row["ratio"] = row["appends_per_s"] / max(1e-9, base_row["appends_per_s"])
        row["p50_ratio"] = row["append_p50_ms"] / max(1e-9, base_row["append_p50_ms"])
    out["ratio"] = out["http"]["ratio"]  # the figure earlier reports read
    return out


def table(result: dict[str, Any]) -> str:
    """The figures as printed lines: each witness beside the unwitnessed baseline."""
    b = result["not_witnessed"]
    lines = [
        f"{'audit append':<34} {'appends/s':>10} {'ratio':>7} {'p50 ms':>7} {'ratio':>7} "
        f"{'lag':>5}",
        f"{'not witnessed (baseline)':<34} {b['appends_per_s']:>10,.0f} {'1.00×':>7} "
        f"{b['append_p50_ms']:>7.3f} {'1.00×':>7} {'':>5}",
    ]
    for name, label in (("http", "witnessed: gateway over HTTP"),
                        ("nats", "witnessed: NATS JetStream stream")):  # fmt: skip
        r = result[name]
        lag = "?" if r.get("lag") is None else str(r["lag"])
        lines.append(
            f"{label:<34} {r['appends_per_s']:>10,.0f} {r['ratio']:>6.2f}× "
            f"{r['append_p50_ms']:>7.3f} {r['p50_ratio']:>6.2f}× {lag:>5}"
        )
    lines.append(f"(means of two runs each, ABCCBA; unwitnessed drift over the run "
                 f"{b['drift']:.2f}×; lag = head seq minus the witness's newest acknowledged "
                 "seq when the load stopped, the larger of the two)")  # fmt: skip
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    from bench import audit_bench, data
    from catalog.db import migrate

    parser = argparse.ArgumentParser(prog="python -m bench.witness_bench")
    parser.add_argument("--seconds", type=float, default=5.0)
    args = parser.parse_args(argv)
    data.recreate(data.AUDIT_DB)
    migrate(data.sa_url(data.AUDIT_DB))
    result = witness_cost(
        url=data.sa_url(data.AUDIT_DB),
        seconds=args.seconds,
        event=audit_bench.event,
        hammer=lambda lg, s: audit_bench._hammer(lg, s, audit_bench.THREADS),
    )
    print(table(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
