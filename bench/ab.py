"""``python -m bench.ab BEFORE_DIR [--embedded] [--rounds N] [--seconds S]``: one cut's
before/after on a noisy shared machine — two bench gateways side by side (``BEFORE_DIR``,
a checkout of the older commit, e.g. a ``git worktree``, and ``--after`` or this one), the loads
interleaved round by round (before governed, after governed, before ungoverned, after
ungoverned, at c=1 and c=8), so both see the same neighbours.

Prints, per side, the governed/ungoverned throughput ratio at c=8 and the p50
difference at c=1 (medians over the rounds), which is what ``make bench`` targets, and
the gateway process's CPU per request (every thread), which neighbours disturb least.
Printed, not stored: the commit that makes the cut quotes it.
"""

from __future__ import annotations

import argparse
import statistics
from pathlib import Path
from typing import Any

from bench.load import run_load
from bench.proc import Gateway
from bench.small import BODY, GOVERNED_PATH


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.ab")
    parser.add_argument("before", type=Path)
    parser.add_argument("--after", type=Path, default=None, help="default: this checkout")
    parser.add_argument("--embedded", action="store_true")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=3.0)
    args = parser.parse_args()
    sides = {
        "before": Gateway(embedded=args.embedded, port=8766, code=args.before,
                          catalog_db="sluice_bench_catalog_a"),
        "after": Gateway(embedded=args.embedded, port=8767, code=args.after,
                         catalog_db="sluice_bench_catalog_b"),
    }  # fmt: skip
    runs: dict[str, dict[str, list[float]]] = {k: {} for k in sides}
    try:
        for gw in sides.values():  # warm up both
            run_load(gw.base + GOVERNED_PATH, BODY, token=gw.tokens["alice"], concurrency=4,
                     seconds=1)  # fmt: skip
            run_load(gw.base + "/bench/ungoverned", {}, token=None, concurrency=4, seconds=1)
        for _ in range(args.rounds):
            for c in (1, 8):
                for name, gw in sides.items():
                    _one(runs[name], gw, c, args.seconds)
    finally:
        for gw in sides.values():
            gw.close()
    for name, r in runs.items():
        print(_line(name, r))
    return 0


def _one(into: dict[str, list[float]], gw: Gateway, c: int, seconds: float) -> None:
    cpu = gw.cpu_s()
    g = run_load(gw.base + GOVERNED_PATH, BODY, token=gw.tokens["alice"], concurrency=c,
                 seconds=seconds)  # fmt: skip
    cpu, g_cpu = gw.cpu_s(), gw.cpu_s() - cpu
    u = run_load(gw.base + "/bench/ungoverned", {}, token=None, concurrency=c, seconds=seconds)
    u_cpu = gw.cpu_s() - cpu
    into.setdefault(f"cpu_ms_gov_c{c}", []).append(g_cpu / max(g["requests"], 1) * 1000)
    into.setdefault(f"cpu_ms_ung_c{c}", []).append(u_cpu / max(u["requests"], 1) * 1000)
    into.setdefault(f"ratio_c{c}", []).append(g["rps"] / u["rps"])
    into.setdefault(f"p50_diff_c{c}", []).append(g["p50_ms"] - u["p50_ms"])
    into.setdefault(f"gov_rps_c{c}", []).append(g["rps"])


def _line(name: str, r: dict[str, list[float]]) -> str:
    med: dict[str, Any] = {k: statistics.median(v) for k, v in r.items()}
    return (f"{name:>6}: c=8 governed/ungoverned {med['ratio_c8']:.2f}× "
            f"({', '.join(f'{x:.2f}' for x in r['ratio_c8'])}); "
            f"c=1 {med['ratio_c1']:.2f}×, p50 {med['p50_diff_c1']:+.2f} ms over ungoverned; "
            f"governed req/s c=8 {med['gov_rps_c8']:.0f}; server CPU ms per request at c=8: "
            f"governed {med['cpu_ms_gov_c8']:.2f}, ungoverned {med['cpu_ms_ung_c8']:.2f} "
            f"({med['cpu_ms_ung_c8'] / med['cpu_ms_gov_c8']:.2f}×)")  # fmt: skip


if __name__ == "__main__":
    raise SystemExit(main())
