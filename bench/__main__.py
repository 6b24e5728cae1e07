"""``python -m bench [scenario …]``: run the benchmarks, write ``bench/results/latest.*``.

Scenarios: small (PostgreSQL deployment), small_embedded (the embedded default, SQLite),
peer (beside Datasette), large, decisions, audit, masking, comparison (default: all). The
gateway runs as its own uvicorn process (``bench.server``) and the load comes from
other processes (``wrk``, ``curl``), so the figures include HTTP and are compared with
baselines measured in the same run.
"""

from __future__ import annotations

import argparse
import platform
import sys
import time
from datetime import UTC, datetime
from typing import Any

import psycopg

from bench import aggregate_bench, comparison, data, decisions, masking_bench, report
from bench.proc import Gateway, cpu_count

SCENARIOS = (
    "small",
    "small_embedded",
    "peer",
    "large",
    "decisions",
    "audit",
    "masking",
    "comparison",
)


def log(msg: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench")
    parser.add_argument("scenarios", nargs="*", default=[])
    parser.add_argument("--seconds", type=float, default=6.0, help="per load level")
    parser.add_argument("--note", default="", help="about the machine, printed with it")
    args = parser.parse_args(argv)
    chosen = args.scenarios or list(SCENARIOS)
    started = time.perf_counter()
    with psycopg.connect(data.dsn("postgres")) as conn:
        pg = conn.execute("SHOW server_version").fetchone()
    results: dict[str, Any] = {
        "started": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {
            "cores": cpu_count(),
            "python": platform.python_version(),
            "postgres": pg[0] if pg else "?",
            "note": args.note,
        },
    }
    results["demo"] = data.ensure_demo(log)
    if {"small", "large", "comparison", "aggregate"} & set(chosen):
        log("starting the gateway (uvicorn, production settings, PostgreSQL)")
        gw = Gateway()
        try:
            # large first: after c=32 the catalog pool can stay exhausted (see README)
            if "large" in chosen:
                from bench import large

                log("large results: 1,000,000 rows as arrow, csv, ndjson")
                results["large"] = large.run(gw)
            if "comparison" in chosen:
                log("comparison: payroll × dibao, governed and direct SQL")
                results["comparison"] = comparison.run(gw)
            if "aggregate" in chosen:
                log("aggregate: 1,000,000 rows grouped, governed and direct GROUP BY")
                results["aggregate"] = aggregate_bench.run(gw)
            if "small" in chosen:
                from bench import small

                log("small queries: governed vs ungoverned at c=1, 8, 32")
                results["small"] = small.run(gw, seconds=args.seconds)
        finally:
            gw.close()
    if "small_embedded" in chosen:
        from bench import small

        log("small queries on the embedded default (SQLite): governed vs ungoverned")
        gw = Gateway(embedded=True)
        try:
            results["small_embedded"] = small.run(gw, seconds=args.seconds)
        finally:
            gw.close()
    if "peer" in chosen:
        from bench import peer

        log("peer: the governed query beside Datasette on the same SQLite file")
        results["peer"] = peer.run(seconds=args.seconds)
    if "decisions" in chosen:
        log("policy decisions: cold and cached")
        results["decisions"] = decisions.run()
    if "audit" in chosen:
        from bench import audit_bench

        log("audit: appends/s (1 and 4 processes), verification of 1,000,000 events")
        results["audit"] = audit_bench.run()
    if "masking" in chosen:
        log("masking: 1,000,000 values per method")
        results["masking"] = masking_bench.run()
    if "large" in results:  # time in mask_batch during the Arrow stream, server-side
        arrow = results["large"]["formats"]["arrow"]
        results["large"]["masking_share"] = arrow["mask_s"] / arrow["total_s"]
    results["elapsed_s"] = time.perf_counter() - started
    js, md = report.write(results, "latest" if set(chosen) == set(SCENARIOS) else "partial")
    print(md.read_text())
    log(f"wrote {js} and {md}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
