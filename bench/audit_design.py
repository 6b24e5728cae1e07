"""The measurements behind the audit store's design, as ratios taken in one run.

``audit/canonical.py`` and ``audit/store.py`` explain why they bypass the obvious
library (``rfc8785``, SQLAlchemy, psycopg's array dumpers and pipeline mode, plain
``executemany``); the figures used to be written into their docstrings and comments.
They live here, each printed as a ratio against the alternative measured in the same
run: re-run this when touching those modules.

    .venv/bin/python -m bench.audit_design

SQLite in memory for the driver comparison; the PostgreSQL ratios use a temporary
table on the machine's server (``make services``) and are skipped when it is down.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import orjson
import psycopg
import rfc8785
from psycopg.adapt import PyFormat, Transformer
from sqlalchemy import Column, MetaData, Table, Text, create_engine

from audit.canonical import canonical_json
from audit.events import format_ts
from audit.store import EVENT_COLUMNS
from bench import data

BATCH = 64  # events in one group commit under load (the writer's batches are smaller)


def cpu_best(call: Callable[[], object], *, repeat: int = 5, number: int = 1) -> float:
    """Best CPU seconds of one call over ``repeat`` rounds of ``number`` calls."""
    call()
    best = float("inf")
    for _ in range(repeat):
        started = time.process_time()
        for _ in range(number):
            call()
        best = min(best, (time.process_time() - started) / number)
    return best


def sample_event(n: int) -> dict[str, Any]:
    """A ``query.completed`` event of the shape the broker records."""
    return {
        "seq": n, "ts": "2026-01-05T08:30:00.123456Z", "event_id": f"{n:032x}",
        "type": "query.completed",
        "actor": {"sub": "alice", "dept": "civil", "roles": ["analyst"]},
        "resource": "civil.dibao_recipients", "purpose": "抽查低保发放", "case_ref": "JW-2026-001",
        "decision": {"allow": True, "reasons": ["masked: id_number"], "decision_id": "d" * 32},
        "policy_version": "sha256:" + "ab" * 16, "fields": ["id_number", "name", "phone"],
        "masks": {"id_number": "id_number_partial", "name": "name_surname"},
        "rows": 20, "result_sha256": "cd" * 32, "client": "10.0.0.7",
        "request_id": "r" * 32, "duration_ms": 12.5, "outcome": "ok",
    }  # fmt: skip


def sample_rows(count: int) -> list[tuple[Any, ...]]:
    """Rows as the writer hands them to the store (``EVENT_COLUMNS``)."""
    rows = []
    for n in range(count):
        body = canonical_json(sample_event(n)).decode()
        rows.append((n + 1, "00" * 32, "11" * 32, body, "2026-01-05T08:30:00.123456Z",
                     "query.completed", "alice", "civil", "civil.dibao_recipients", "civil",
                     "ok", "抽查低保发放", "JW-2026-001", True))  # fmt: skip
    return rows


def canonical_design() -> dict[str, float]:
    events = [sample_event(n) for n in range(200)]
    jcs = cpu_best(lambda: [rfc8785.dumps(e) for e in events])
    ours = cpu_best(lambda: [canonical_json(e) for e in events])
    moment = datetime.now(UTC)
    fast = cpu_best(lambda: moment.isoformat(timespec="microseconds")[:-6] + "Z", number=20_000)
    general = cpu_best(lambda: format_ts(moment), number=20_000)
    return {
        "rfc8785 / audit.canonical (orjson, sorted keys), per event": jcs / ours,
        "format_ts / the UTC shortcut in events._timestamp": general / fast,
    }


def rows_as_json_design(rows: list[tuple[Any, ...]]) -> dict[str, float]:
    """One JSON array parameter against one psycopg-dumped array per column."""
    transformer = Transformer()
    columns = [list(column) for column in zip(*rows, strict=True)]

    def arrays() -> None:
        for column in columns:
            transformer.get_dumper(column, PyFormat.TEXT).dump(column)

    return {"psycopg array dumpers / orjson array of rows": cpu_best(arrays)
            / cpu_best(lambda: orjson.dumps(rows))}  # fmt: skip


def driver_design(rows: list[tuple[Any, ...]]) -> dict[str, float]:
    """SQLAlchemy Core against the raw DB-API driver, same SQLite statement."""
    raw = sqlite3.connect(":memory:")
    raw.execute(f"CREATE TABLE audit_events ({','.join(EVENT_COLUMNS)})")
    marks = ",".join("?" * len(EVENT_COLUMNS))
    sql = f"INSERT INTO audit_events VALUES ({marks})"
    engine = create_engine("sqlite://")
    table = Table("audit_events", MetaData(), *(Column(c, Text) for c in EVENT_COLUMNS))
    table.create(engine)
    dicts = [dict(zip(EVENT_COLUMNS, row, strict=True)) for row in rows]

    def with_sqlalchemy() -> None:
        with engine.begin() as conn:
            conn.execute(table.insert(), dicts)

    def with_driver() -> None:
        with raw:
            raw.executemany(sql, rows)

    return {"SQLAlchemy Core insert / sqlite3 executemany (per row)":
            cpu_best(with_sqlalchemy) / cpu_best(with_driver)}  # fmt: skip


def postgres_design(
    rows: list[tuple[Any, ...]], many_rows: list[tuple[Any, ...]]
) -> dict[str, float]:
    """Client CPU of one batch: pipeline mode against one simple-protocol query; server
    time of COPY against ``executemany`` (wall clock, the server does the work)."""
    out: dict[str, float] = {}
    with psycopg.connect(data.dsn("postgres")) as conn:
        columns = ",".join(f"{c} text" for c in EVENT_COLUMNS)
        conn.execute(f"CREATE TEMP TABLE audit_events ({columns})")
        conn.commit()
        payload = orjson.dumps(rows).decode()
        insert = ("INSERT INTO audit_events SELECT " + ",".join(
            f"e->>{i}" for i in range(len(EVENT_COLUMNS))) +
            " FROM jsonb_array_elements(%s::jsonb) AS e")  # fmt: skip
        quote = psycopg.pq.Escaping(conn.pgconn).escape_literal
        simple = b"BEGIN; " + insert.replace("%s", "%b").encode() % quote(payload.encode()) + \
            b"; COMMIT"  # fmt: skip

        def pipelined() -> None:
            with conn.pipeline(), conn.cursor() as cur:
                cur.execute(insert, (payload,))
                conn.commit()

        def one_query() -> None:
            conn.autocommit = True
            try:
                conn.execute(simple)
            finally:
                conn.autocommit = False

        out["pipeline mode / one simple-protocol query (client CPU per batch)"] = cpu_best(
            pipelined, number=20
        ) / cpu_best(one_query, number=20)
        marks = ",".join(["%s"] * len(EVENT_COLUMNS))

        def many() -> None:
            with conn.cursor() as cur:
                cur.executemany(f"INSERT INTO audit_events VALUES ({marks})", many_rows)
            conn.commit()

        def copy() -> None:
            with conn.cursor() as cur, cur.copy("COPY audit_events FROM STDIN") as writer:
                for row in many_rows:
                    writer.write_row(row)
            conn.commit()

        out["executemany / COPY (wall clock, 1,000 rows)"] = _wall(many) / _wall(copy)
    return out


def _wall(call: Callable[[], object]) -> float:
    call()
    best = float("inf")
    for _ in range(5):
        started = time.perf_counter()
        call()
        best = min(best, time.perf_counter() - started)
    return best


def run() -> dict[str, Any]:
    rows = sample_rows(BATCH)
    ratios = {**canonical_design(), **rows_as_json_design(rows), **driver_design(rows)}
    try:
        ratios.update(postgres_design(rows, sample_rows(1000)))
    except psycopg.OperationalError as exc:
        ratios["(PostgreSQL ratios skipped: server not reachable)"] = float("nan")
        print(f"PostgreSQL not reachable: {exc}")
    return {"batch": BATCH, "ratios": ratios}


def main() -> None:
    result = run()
    print(f"audit design ratios (CPU time unless said, best of 5; batch {result['batch']})")
    for what, ratio in result["ratios"].items():
        print(f"  {ratio:7.2f}×  {what}")


if __name__ == "__main__":
    main()
