"""``python -m bench.steps [--pg] [--requests N]``: the governed small query's CPU per
request, step by step (thread CPU), with the bench's app driven in this process.

Why: ``bench.profile`` samples wall time (py-spy falls behind on the shared 2-core
machine) and ``bench.threads`` splits the CPU by thread, not by step. Here each step
of the request is wrapped and charged ``time.thread_time()`` — the CPU of the thread
that ran it, whatever the other threads and the neighbours did meanwhile — over ``N``
requests sent at 8 concurrent clients straight to the ASGI app (no socket, so the HTTP
server's own share is not here: ``bench.threads`` has it as ``MainThread``). Steps nest
(``prepare`` holds ``prepare.start``); generators are charged per ``next``. Steps that
run on other threads (the audit writer's batches, the alert runner's evaluations, the
monitor's checks and walk of the chain) are per request too: what each costs the
serving process.

A step's figure in the server is 3-6× what the same call costs in a loop on its own
(cold caches: each runs once per request among thousands of others), so a cut is
judged here or with ``bench.ab``, never by a micro-benchmark. Printed, not stored.
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import importlib
import json
import resource
import tempfile
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from bench import data, server
from bench.small import BODY, GOVERNED_PATH
from gateway.core.heap import settle_heap

# (module, attribute path, label, generator): the request's steps in their order
STEPS: tuple[tuple[str, str, str, bool], ...] = (
    ("gateway.web.current_user", "DeferredUser.resolve", "identity (store, generation)", False),
    ("gateway.enforcement.query.broker", "Broker.prepare", "prepare", False),
    ("gateway.enforcement.query.broker", "Broker._admit", "prepare.admit", False),
    ("gateway.enforcement.query.broker", "Broker._authorize", "prepare.authorize", False),
    ("gateway.enforcement.query.broker", "plan_query", "prepare.plan", False),
    ("gateway.enforcement.query.run", "QueryRun.record_start", "prepare.start record", False),
    ("gateway.web.routes.streaming", "_head", "produce (read, mask, encode)", False),
    ("adapters.sql", "SqlAdapter._stream", "produce.source read", True),
    ("adapters.sql", "SqlAdapter._to_batch", "produce.source read.arrow batch", False),
    ("gateway.enforcement.query.execute", "Reader._masked", "produce.mask and tokens", False),
    (
        "gateway.enforcement.query.subjects",
        "SubjectTokens.collect",
        "produce.subject tokens",
        False,
    ),
    ("gateway.enforcement.query.formats", "JsonEncoder.batch", "produce.json", False),
    # a small JSON answer from the rows' tuples (no Arrow batch: ``small_answer``)
    ("adapters.sql", "SqlAdapter.small_rows", "produce.source read (tuples)", False),
    ("gateway.enforcement.query.execute", "Reader.answer", "produce.small answer", False),
    ("gateway.enforcement.query.formats", "JsonEncoder.rows", "produce.json (rows)", False),
    ("gateway.enforcement.query.run", "QueryRun._wait_started", "produce.wait start", False),
    ("gateway.enforcement.query.delivery", "Started.completed", "end record (event loop)", False),
    ("audit.writer", "GroupCommitWriter._commit_batch", "audit writer batches", False),
    ("audit.alert_runner", "AlertRunner.evaluate", "alert runner", False),
    ("audit.monitor", "Monitor.check", "audit monitor (checks and chain walk)", False),
    # the audit's parts (twelfth pass): the records' family and preparation, the batch's
    ("gateway.enforcement.query.run", "query_family", "audit.start's family", False),
    ("audit.log", "prepare", "audit.prepare (caller's thread)", False),
    ("audit.events", "_serialise", "audit.prepare.canonical JSON", False),
    ("audit.log", "AuditLog.submit", "audit.submit (start)", False),
    ("audit.log", "AuditLog.append_nowait", "audit.append_nowait (end)", False),
    ("audit.writer", "_chain", "audit writer.chain (hash, MAC)", False),
    ("audit.store", "AuditStore.begin_at_head", "audit writer.lock and head", False),
    ("audit.store", "AuditStore.insert_and_commit", "audit writer.insert and commit", False),
    ("audit.store", "AuditStore.append_if_head", "audit writer.optimistic append", False),
    # the decision's parts: the input and the cached decision point
    ("gateway.enforcement.query.broker", "decision_input", "prepare.authorize.input", False),
    ("policies.cache", "CachedPDP.decide", "prepare.authorize.decide (cache)", False),
)


def _resolve(module: str, path: str) -> tuple[Any, str]:
    owner: Any = importlib.import_module(module)
    *parents, name = path.split(".")
    for parent in parents:
        owner = getattr(owner, parent)
    return owner, name


def instrument(cpu: defaultdict[str, float], calls: Counter[str]) -> None:
    """Wrap every step of ``STEPS`` so its thread CPU adds up in ``cpu``."""
    for module, path, label, generator in STEPS:
        owner, name = _resolve(module, path)
        setattr(owner, name, _charged(getattr(owner, name), label, generator, cpu, calls))


def _charged(
    f: Callable[..., Any],
    label: str,
    generator: bool,
    cpu: defaultdict[str, float],
    calls: Counter[str],
) -> Callable[..., Any]:
    if generator:

        @functools.wraps(f)
        def stepped(*args: Any, **kwargs: Any) -> Iterator[Any]:
            inner = f(*args, **kwargs)
            calls[label] += 1
            while True:
                began = time.thread_time()
                try:
                    item = next(inner)
                except StopIteration:
                    return
                finally:
                    cpu[label] += time.thread_time() - began
                yield item

        return stepped

    @functools.wraps(f)
    def timed(*args: Any, **kwargs: Any) -> Any:
        began = time.thread_time()
        try:
            return f(*args, **kwargs)
        finally:
            cpu[label] += time.thread_time() - began
            calls[label] += 1

    return timed


async def _request(app: Any, token: str, body: bytes) -> None:
    sent = False

    async def receive() -> dict[str, Any]:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        await asyncio.sleep(3600)  # never disconnects
        return {"type": "http.disconnect"}

    status: list[int] = []

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            status.append(message["status"])

    headers = [(b"host", b"bench"), (b"content-type", b"application/json"),
               (b"authorization", f"Bearer {token}".encode())]  # fmt: skip
    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1",
             "method": "POST", "scheme": "http", "path": GOVERNED_PATH,
             "raw_path": GOVERNED_PATH.encode(), "query_string": b"", "root_path": "",
             "headers": headers, "client": ("127.0.0.1", 50000),
             "server": ("127.0.0.1", 8765), "state": {}}  # fmt: skip
    await app(scope, receive, send)
    if status != [200]:  # a refused query would be measured as a cheap one
        raise RuntimeError(f"governed query answered {status}")


async def _load(app: Any, token: str, requests: int, clients: int = 8) -> None:
    body = json.dumps(BODY).encode()
    left = [requests]

    async def client() -> None:
        while left[0] > 0:
            left[0] -= 1
            await _request(app, token, body)

    await asyncio.gather(*(client() for _ in range(clients)))


def _process_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


async def _measure(app: Any, token: str, requests: int, cpu: defaultdict[str, float],
                   calls: Counter[str]) -> float:  # fmt: skip
    """The process's CPU seconds over ``requests`` after a warm-up (caches, pools, the
    alert index), the steps' counters cleared in between."""
    await _load(app, token, 500)
    cpu.clear()
    calls.clear()
    began = _process_cpu()
    await _load(app, token, requests)
    return _process_cpu() - began


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.steps")
    parser.add_argument("--pg", action="store_true", help="PostgreSQL (default: embedded)")
    parser.add_argument("--requests", type=int, default=3000)
    args = parser.parse_args()
    home = Path(tempfile.mkdtemp(prefix="sluice-bench-steps-"))
    extra: dict[str, str] = {}
    if args.pg:
        data.ensure_demo(print)
        data.recreate("sluice_bench_catalog_steps")
        extra = {"catalog_db": "sluice_bench_catalog_steps"}
    app, services = server.build(home, embedded=not args.pg, **extra)
    settle_heap()  # as the app's start-up does (the lifespan is not run here)
    token = json.loads((home / "tokens.json").read_text())["alice"]
    cpu: defaultdict[str, float] = defaultdict(float)
    calls: Counter[str] = Counter()
    instrument(cpu, calls)
    try:
        total = asyncio.run(_measure(app, token, args.requests, cpu, calls))
    finally:
        services.close()
    n = args.requests
    print(f"{'step (thread CPU per request)':44} {'us':>8} {'calls':>6}")
    for _module, _path, label, _gen in STEPS:
        print(f"{label:44} {cpu[label] * 1e6 / n:8.1f} {calls[label] / n:6.2f}")
    print(f"{'process (every thread, at 8 clients)':44} {total * 1e6 / n:8.1f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
