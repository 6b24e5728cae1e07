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

``spark_jdbc`` is the same engine reading its sides itself, as it does for a SQL
source: each side by JDBC from the PostgreSQL tables the baseline joins (split over the
cores on a row number, as ``spark.partitions`` splits a read), the key masked into its
case-keyed token on the executors by the gateway's masking code (``govern``), then the
same join. Nothing is handed over through the driver, so this is the rate a cluster
run scales from; the Arrow-handed figure is kept beside it (sides the broker read).
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

from adapters.base import Column, QueryPlan
from bench import data
from gateway.enforcement.comparison.arrow_engine import ArrowEngine
from gateway.enforcement.comparison.engine import CancelToken
from gateway.enforcement.comparison.spark.engine import SparkEngine
from gateway.enforcement.comparison.spark.session import spark_session
from gateway.enforcement.comparison.spark.sources import SourceRead
from gateway.enforcement.comparison.spec import ModelSpec, compile_model
from gateway.enforcement.query.plan import ExecutionPlan

RUNS = 3
SPARK_MASTER = "local[2]"
DB = "sluice_bench_engines"
RESULTS = Path(__file__).parent / "results"
FIELDS = {"civil.dibao": {"id": "string", "status": "string", "amount": "float64",
                          "last_paid": "date"},
          "civil.deaths": {"id": "string", "death_date": "date"}}  # fmt: skip
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
    model = compile_model(ModelSpec.model_validate(SPEC), model_id="bench", version=1,
                          fields=FIELDS)  # fmt: skip
    out = ArrowEngine().run(model, {"d": left.to_reader(), "x": right.to_reader()},
                            limit=10**9, cancel=CancelToken(), progress=lambda _: None)  # fmt: skip
    return out.table.num_rows


def spark_join(left: pa.Table, right: pa.Table) -> int:
    """The gateway's ``SparkEngine`` in local mode on the same compiled model, the sides
    handed over as Arrow (the session is made before the timed runs)."""
    model = compile_model(ModelSpec.model_validate(SPEC), model_id="bench", version=1,
                          fields=FIELDS)  # fmt: skip
    out = SparkEngine(master=SPARK_MASTER).run(
        model, {"d": left.to_reader(), "x": right.to_reader()}, limit=10**9,
        cancel=CancelToken(), progress=lambda _: None)  # fmt: skip
    return out.table.num_rows


class _Source:
    kind = "postgresql"


class _Entry:
    source = _Source()
    region_field = None

    def __init__(self, name: str) -> None:
        self.id = name


class BenchSide:
    """A side as the broker plans it for Spark to read (``PlannedSide``'s interface):
    the table's columns, the key masked by ``hash`` under a case key, no row filter
    (the bench's analyst sees every county), nothing put on record."""

    audit_key = b"bench-audit-key-0123456789abcdef"

    def __init__(self, table: str, columns: dict[str, str]) -> None:
        self.entry = _Entry(table)
        cols = tuple(Column(n, t) for n, t in columns.items())
        self.plan = ExecutionPlan(
            source=QueryPlan(object_name=table, columns=cols,
                             known_columns=(*cols, Column("n", "int64"))),
            masks={"id": "hash"}, hash_key=b"bench-case-key-0123456789abcdef!",
            post_filters=(), limit=10**9, skip=0, columns=(), requested=tuple(columns),
        )  # fmt: skip

    def start(self) -> None:
        return None

    def read(self, *, rows: int, tokens: list[str], counties: set[str]) -> None:
        return None


class BenchSources:
    """Where the bench's sides are: the baseline's PostgreSQL tables."""

    def describe(self, entry: _Entry) -> SourceRead:
        return SourceRead("jdbc", f"jdbc:postgresql://127.0.0.1:5432/{DB}", f'"{entry.id}"',
                          {"driver": "org.postgresql.Driver", "user": "postgres"})  # fmt: skip


def spark_jdbc(left: pa.Table, right: pa.Table) -> int:
    """The gateway's ``SparkEngine`` reading both sides itself by JDBC from PostgreSQL
    (the rows ``load_postgres`` loaded; ``left``/``right`` only name the run)."""
    model = compile_model(ModelSpec.model_validate(SPEC), model_id="bench", version=1,
                          fields=FIELDS)  # fmt: skip
    sides: dict[str, Any] = {"d": BenchSide("d", FIELDS["civil.dibao"]),
                             "x": BenchSide("x", FIELDS["civil.deaths"])}  # fmt: skip
    engine = SparkEngine(master=SPARK_MASTER, sources=BenchSources())  # type: ignore[arg-type]
    out = engine.run(model, sides, limit=10**9, cancel=CancelToken(),
                     progress=lambda _: None)  # fmt: skip
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
                     "last_paid date, n bigint)")  # fmt: skip
        conn.execute("CREATE TABLE x (id text, death_date date, n bigint)")
        for name, table in (("d", left), ("x", right)):
            # a row number, as a table's serial key: what Spark splits its read on
            table = table.append_column("n", pa.array(np.arange(table.num_rows)))
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
    engines = {"arrow": arrow, "spark": spark_join, "spark_jdbc": spark_jdbc,
               "duckdb": duckdb_join, "polars": polars_join}  # fmt: skip
    for name, run in engines.items():
        if name in ("duckdb", "polars") and importlib.util.find_spec(name) is None:
            results["engines"][name] = "not installed"
            continue
        seconds, found = best(lambda run=run: run(left, right))  # type: ignore[misc]
        if found != expected:
            raise RuntimeError(f"{name} found {found} hits, PostgreSQL {expected}")
        results["engines"][name] = {"s": round(seconds, 3), "ratio": round(seconds / baseline, 2)}
    # what docs/comparison-spark.md projects a cluster run from (spark_jdbc: Spark's own
    # reads, the way a cluster run reads; spark: sides handed over as Arrow)
    for name in ("spark", "spark_jdbc"):
        spark = results["engines"][name]
        spark.update({"master": SPARK_MASTER, "cores": cores,
                      "rows_per_core_s": round(2 * args.rows / (spark["s"] * cores))})  # fmt: skip
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "comparison_engines.json").write_text(json.dumps(results, indent=2) + "\n")
    print(json.dumps(results, indent=2))
    return results


if __name__ == "__main__":
    main()
