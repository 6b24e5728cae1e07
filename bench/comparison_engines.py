"""Which embedded engine joins a comparison's sides: Arrow, DuckDB or Polars (issue 15).

``python -m bench.comparison_engines [--rows N]``: two sides of N rows each (default
1,000,000), already as the broker hands them over — a key token column (``tk_`` + 24
hex, as the ``hash`` mask makes them), a status, an amount and a date — one in ten keys
on both sides. Each engine runs the same rule: inner join on the token, ``status =
'active'``, ``last_paid - death_date >= 30`` (days), the hits sorted. The baseline is
the same join run directly by PostgreSQL on the same rows (loaded with COPY), fetched
to the client. Best of three runs each; the figures are ratios to that baseline,
measured in the same run. DuckDB and Polars are measured only where installed (``pip
install duckdb polars``): neither is a dependency of the gateway.

The Arrow figure is the engine the gateway runs (``ArrowEngine`` on a compiled model),
so it includes building the Arrow expressions from the model's typed tree. The Spark
figure is the gateway's ``SparkEngine`` in local mode (``local[2]``) on the same model
and the same Arrow sides (session start-up reported apart, not timed); with its cores
it gives the per-core rate ``docs/comparison-spark.md`` projects a cluster run from.
"""

from __future__ import annotations

import argparse
import importlib.util
import io
import json
import os
import time
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
import psycopg
import pyarrow as pa
import pyarrow.csv as pacsv

from bench import data
from gateway.enforcement.comparison.arrow_engine import ArrowEngine
from gateway.enforcement.comparison.engine import CancelToken
from gateway.enforcement.comparison.spark.engine import SparkEngine
from gateway.enforcement.comparison.spark.session import spark_session
from gateway.enforcement.comparison.spec import ModelSpec, compile_model

RUNS = 3
SPARK_MASTER = "local[2]"
DB = "sluice_bench_engines"
RESULTS = Path(__file__).parent / "results"
SPEC = {
    "sides": [{"alias": "d", "dataset": "civil.dibao"}, {"alias": "x", "dataset": "civil.deaths"}],
    "joins": [{"left": "d", "left_key": "id", "right": "x", "right_key": "id"}],
    "conditions": [
        {"op": "=", "args": [{"field": "d.status"}, {"value": "active", "type": "string"}]},
        {"op": ">=", "args": [{"op": "-", "args": [{"field": "d.last_paid"},
                                                   {"field": "x.death_date"}]},
                              {"value": 30, "type": "number"}]},
    ],
    "output": ["d.amount", "x.death_date"],
}  # fmt: skip
SQL = (
    "SELECT d.id, d.amount, x.death_date FROM d JOIN x ON x.id = d.id "
    "WHERE d.status = 'active' AND d.last_paid - x.death_date >= 30 "
    "ORDER BY d.id, d.amount, x.death_date"
)


def sides(rows: int, seed: int = 15) -> tuple[pa.Table, pa.Table]:
    rng = np.random.default_rng(seed)
    ids = np.arange(rows, dtype=np.int64)
    shared = rng.choice(rows, rows // 10, replace=False)
    other = ids + rows  # keys found on one side only
    right_ids = other.copy()
    right_ids[shared] = ids[shared]

    def tokens(values: np.ndarray) -> pa.Array:
        return pa.array([f"tk_{v:024x}" for v in values.tolist()], pa.string())

    epoch = date(2024, 12, 1).toordinal() - date(1970, 1, 1).toordinal()
    left = pa.table({
        "id": tokens(ids),
        "status": pa.array(np.where(rng.random(rows) < 0.85, "active", "terminated")),
        "amount": pa.array(np.round(rng.uniform(400, 4000, rows), 2)),
        "last_paid": pa.array(np.full(rows, epoch, dtype=np.int32)).cast(pa.date32()),
    })  # fmt: skip
    right = pa.table({
        "id": tokens(right_ids),
        "death_date": pa.array((epoch - rng.integers(0, 3000, rows)).astype(np.int32)).cast(
            pa.date32()),
    })  # fmt: skip
    return left, right


def best(run: Callable[[], int]) -> tuple[float, int]:
    times, hits = [], 0
    for _ in range(RUNS):
        t = time.perf_counter()
        hits = run()
        times.append(time.perf_counter() - t)
    return min(times), hits


def arrow(left: pa.Table, right: pa.Table) -> int:
    fields = {"civil.dibao": {"id": "string", "status": "string", "amount": "float64",
                              "last_paid": "date"},
              "civil.deaths": {"id": "string", "death_date": "date"}}  # fmt: skip
    model = compile_model(ModelSpec.model_validate(SPEC), model_id="bench", version=1,
                          fields=fields)  # fmt: skip
    out = ArrowEngine().run(model, {"d": left.to_reader(), "x": right.to_reader()},
                            limit=10**9, cancel=CancelToken(), progress=lambda _: None)  # fmt: skip
    return out.table.num_rows


def spark_join(left: pa.Table, right: pa.Table) -> int:
    """The gateway's ``SparkEngine`` in local mode on the same compiled model, the sides
    handed over as Arrow (the session is made before the timed runs)."""
    fields = {"civil.dibao": {"id": "string", "status": "string", "amount": "float64",
                              "last_paid": "date"},
              "civil.deaths": {"id": "string", "death_date": "date"}}  # fmt: skip
    model = compile_model(ModelSpec.model_validate(SPEC), model_id="bench", version=1,
                          fields=fields)  # fmt: skip
    out = SparkEngine(master=SPARK_MASTER).run(
        model, {"d": left.to_reader(), "x": right.to_reader()}, limit=10**9,
        cancel=CancelToken(), progress=lambda _: None)  # fmt: skip
    return out.table.num_rows


def spark_cores() -> int:
    """The cores the local master runs tasks on (``local[N]``). The driver gets 4 GB:
    sides handed over as Arrow are shipped through it (its 1 GB default runs out on
    two 1,000,000-row sides)."""
    os.environ.setdefault("PYSPARK_SUBMIT_ARGS", "--driver-memory 4g pyspark-shell")
    return int(spark_session(SPARK_MASTER).sparkContext.defaultParallelism)


def duckdb_join(left: pa.Table, right: pa.Table) -> int:
    import duckdb

    con = duckdb.connect()
    con.register("d", left)
    con.register("x", right)
    query = SQL.replace("d.last_paid - x.death_date", "date_diff('day', x.death_date, d.last_paid)")
    rows = con.sql(query).to_arrow_table()
    return int(rows.num_rows)


def polars_join(left: pa.Table, right: pa.Table) -> int:
    import polars as pl

    d, x = pl.from_arrow(left), pl.from_arrow(right)
    assert isinstance(d, pl.DataFrame) and isinstance(x, pl.DataFrame)
    out = (d.filter(pl.col("status") == "active").join(x, on="id", how="inner")
           .filter((pl.col("last_paid") - pl.col("death_date")).dt.total_days() >= 30)
           .select("id", "amount", "death_date").sort(["id", "amount", "death_date"]))  # fmt: skip
    return out.height


def load_postgres(left: pa.Table, right: pa.Table) -> None:
    data.recreate(DB)
    with psycopg.connect(data.dsn(DB)) as conn:
        conn.execute("CREATE TABLE d (id text, status text, amount double precision, "
                     "last_paid date)")  # fmt: skip
        conn.execute("CREATE TABLE x (id text, death_date date)")
        for name, table in (("d", left), ("x", right)):
            buf = io.BytesIO()
            pacsv.write_csv(table, buf, pacsv.WriteOptions(include_header=False))
            with conn.cursor().copy(f"COPY {name} FROM STDIN (FORMAT csv)") as copy:
                copy.write(buf.getvalue())
        conn.execute("ANALYZE d")
        conn.execute("ANALYZE x")


def postgres_join() -> int:
    with psycopg.connect(data.dsn(DB)) as conn:
        return len(conn.execute(SQL).fetchall())


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(prog="python -m bench.comparison_engines")
    parser.add_argument("--rows", type=int, default=1_000_000)
    args = parser.parse_args(argv)
    left, right = sides(args.rows)
    load_postgres(left, right)
    baseline, expected = best(postgres_join)
    results: dict[str, Any] = {"rows_per_side": args.rows, "hits": expected,
                               "direct_sql_s": round(baseline, 3), "engines": {}}  # fmt: skip
    started = time.perf_counter()
    cores = spark_cores()  # the JVM starts once, outside the timed runs
    results["spark_session_s"] = round(time.perf_counter() - started, 1)
    engines = {"arrow": arrow, "spark": spark_join, "duckdb": duckdb_join,
               "polars": polars_join}  # fmt: skip
    for name, run in engines.items():
        if name in ("duckdb", "polars") and importlib.util.find_spec(name) is None:
            results["engines"][name] = "not installed"
            continue
        seconds, found = best(lambda run=run: run(left, right))  # type: ignore[misc]
        if found != expected:
            raise RuntimeError(f"{name} found {found} hits, PostgreSQL {expected}")
        results["engines"][name] = {"s": round(seconds, 3), "ratio": round(seconds / baseline, 2)}
    spark = results["engines"]["spark"]
    # what docs/comparison-spark.md projects a cluster run from
    spark.update({"master": SPARK_MASTER, "cores": cores,
                  "rows_per_core_s": round(2 * args.rows / (spark["s"] * cores))})  # fmt: skip
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "comparison_engines.json").write_text(json.dumps(results, indent=2) + "\n")
    print(json.dumps(results, indent=2))
    return results


if __name__ == "__main__":
    main()
