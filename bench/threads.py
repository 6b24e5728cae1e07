"""``python -m bench.threads [--embedded] [--seconds N]``: the gateway's CPU per request,
split by thread, for the ungoverned route and the governed small query in one gateway.

Why: py-spy falls seconds behind on the shared 2-core machine (``bench.profile`` kept
26-266 samples of a 10 s run), and a profile of wall time cannot tell the route's CPU
from a wait. Per-thread CPU (``/proc``, via ``bench.sampler`` in the gateway) says which
thread — event loop, route threads, audit writer, alert runner, monitor — takes the
governed request's extra milliseconds. The route threads are the process's CPU less the
named ones (anyio retires idle pool threads, and a dead thread's CPU leaves ``/proc``).
The sampler's collapsed stacks are left in the gateway's home for a closer look.
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

from bench.load import run_load
from bench.proc import Gateway
from bench.small import BODY, GOVERNED, UNGOVERNED

NAMED = ("MainThread", "audit-writer", "sluice-alert-rules", "audit-monitor", "bench-sampler")


def _threads(path: Path) -> dict[str, float]:
    rows = (line.split("\t") for line in path.read_text().splitlines())
    return {name: float(cpu) for name, cpu in rows}


def split(gw: Gateway, url: str, token: str | None, seconds: float) -> dict[str, float]:
    """ms of CPU per request by thread while ``url`` is loaded at 8 clients."""
    threads = gw.home / "stacks.threads"
    time.sleep(1.2)  # the sampler writes each second
    before, cpu0 = _threads(threads), gw.cpu_s()
    result = run_load(url, BODY, token=token, concurrency=8, seconds=seconds)
    time.sleep(1.2)
    after, cpu1 = _threads(threads), gw.cpu_s()
    n = max(1, int(result["requests"]))
    out = {k: (after.get(k, 0.0) - before.get(k, 0.0)) * 1000 / n for k in NAMED}
    out["route threads"] = (cpu1 - cpu0) * 1000 / n - sum(out.values())
    out["process"] = (cpu1 - cpu0) * 1000 / n
    out["req/s"] = result["rps"]
    return out


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.threads")
    parser.add_argument("--embedded", action="store_true")
    parser.add_argument("--seconds", type=float, default=6)
    args = parser.parse_args()
    os.environ["SLUICE_BENCH_SAMPLE"] = "stacks.txt"  # relative: the gateway's home
    gw = Gateway(embedded=args.embedded)
    try:
        token = gw.tokens["alice"]
        run_load(GOVERNED, BODY, token=token, concurrency=4, seconds=1)  # warm up
        run_load(UNGOVERNED, BODY, token=None, concurrency=4, seconds=1)
        bare = split(gw, UNGOVERNED, None, args.seconds)
        governed = split(gw, GOVERNED, token, args.seconds)
        print(f"{'ms CPU per request':24} {'ungoverned':>11} {'governed':>9}")
        for key in (*NAMED, "route threads", "process", "req/s"):
            print(f"{key:24} {bare[key]:11.3f} {governed[key]:9.3f}")
        print(f"\nstacks: {gw.home / 'stacks.txt'}")
    finally:
        gw.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
