"""The xlsx stream against the CSV's (issue 16): rows per second and peak RSS, as ratios.

Rows per second are wall time, and per CPU second the process's CPU time (what a shared,
busy machine disturbs least; the xlsx writer deflates on a second thread, so its wall
time can be below its CPU time). Each format encodes the same ``ROWS`` dibao-like rows
(18-digit ID numbers, region codes, phones, names, dates, decimal amounts) in
``BATCH``-row batches, through the encoder the query uses, in a process of its own (so
each peak is its own); the bytes are drained as a response would send them and thrown
away. Peak RSS is reported as the
process's peak and as the growth over its RSS before encoding (the Python, pyarrow and
writer imports are the same in both).

    .venv/bin/python -m bench.xlsx_bench [rows]
"""

from __future__ import annotations

import datetime
import decimal
import json
import resource
import subprocess
import sys
import time

import pyarrow as pa

from gateway.enforcement.query.formats import make_encoder

ROWS = 1_000_000
BATCH = 65_536


def _batch(start: int, size: int) -> pa.RecordBatch:
    index = range(start, start + size)
    day = datetime.date(2020, 1, 1)
    return pa.record_batch({
        "id_number": pa.array([f"4301021980{i % 10**8:08d}" for i in index]),
        "region_code": pa.array([f"43010{i % 10}" for i in index]),
        "phone": pa.array([f"138{i % 10**8:08d}" for i in index]),
        "name": pa.array([f"张{i % 977}" for i in index]),
        "start_date": pa.array([day + datetime.timedelta(days=i % 2000) for i in index]),
        "monthly_amount": pa.array([decimal.Decimal(i % 90000) / 100 for i in index],
                                   pa.decimal128(10, 2)),
    })  # fmt: skip


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def one(fmt: str, rows: int) -> dict[str, float]:
    """Encode ``rows`` rows as ``fmt`` here; the batches are made outside the clock."""
    before = _peak_mb()
    encoder = make_encoder(fmt)
    size = 0
    elapsed = cpu = 0.0
    for start in range(0, rows, BATCH):
        batch = _batch(start, min(BATCH, rows - start))
        t, c = time.perf_counter(), time.process_time()
        if start == 0:
            size += len(encoder.begin(batch.schema, {}))
        size += len(encoder.batch(batch))
        elapsed += time.perf_counter() - t
        cpu += time.process_time() - c
    t, c = time.perf_counter(), time.process_time()
    for part in encoder.tail({"truncated": False, "row_count": rows}):
        size += len(part)
    elapsed += time.perf_counter() - t
    cpu += time.process_time() - c
    peak = _peak_mb()
    return {"rows_per_s": rows / elapsed, "rows_per_cpu_s": rows / cpu, "peak_mb": peak,
            "growth_mb": peak - before, "bytes": size}  # fmt: skip


def main(rows: int = ROWS) -> dict[str, object]:
    results = {}
    for fmt in ("csv", "xlsx"):
        out = subprocess.run([sys.executable, "-m", "bench.xlsx_bench", "--one", fmt, str(rows)],
                             check=True, capture_output=True, text=True)  # fmt: skip
        results[fmt] = json.loads(out.stdout.strip().splitlines()[-1])
    csv, xlsx = results["csv"], results["xlsx"]
    report = {
        "rows": rows,
        **results,
        "xlsx_rows_per_s_ratio": xlsx["rows_per_s"] / csv["rows_per_s"],
        "xlsx_rows_per_cpu_s_ratio": xlsx["rows_per_cpu_s"] / csv["rows_per_cpu_s"],
        "xlsx_peak_rss_ratio": xlsx["peak_mb"] / csv["peak_mb"],
        "xlsx_rss_growth_ratio": xlsx["growth_mb"] / max(csv["growth_mb"], 1.0),
    }
    print(f"xlsx vs csv on {rows:,} rows: rows/s x{report['xlsx_rows_per_s_ratio']:.2f} "
          f"({xlsx['rows_per_s']:,.0f} vs {csv['rows_per_s']:,.0f}); per CPU second "
          f"x{report['xlsx_rows_per_cpu_s_ratio']:.2f} (the figure a busy machine disturbs "
          f"least; xlsx deflates on a second thread); peak RSS "
          f"x{report['xlsx_peak_rss_ratio']:.2f} ({xlsx['peak_mb']:.0f} vs "
          f"{csv['peak_mb']:.0f} MB; growth {xlsx['growth_mb']:.0f} vs "
          f"{csv['growth_mb']:.0f} MB)")  # fmt: skip
    return report


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--one":
        print(json.dumps(one(sys.argv[2], int(sys.argv[3]))))
    else:
        main(int(sys.argv[1]) if len(sys.argv) > 1 else ROWS)
