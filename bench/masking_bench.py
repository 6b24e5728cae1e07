"""Scenario 5: cells per second of each mask method on 1,000,000 values.

``dibao_big`` is ten copies of the 100,000 recipients, so ``hash`` there sees each value
ten times (and hashes it once); ``hash_distinct`` is the same ID numbers made distinct
(an export of a whole register), where every value costs one HMAC.

The ratios behind the masking modules' design choices are ``bench/masking_design.py``.

Each method's time is also a ratio to one plain ``pyarrow.compute`` pass over the same
column in the same run (``plain_pass``: ``utf8_length`` of strings, ``multiply`` of
numbers, ``year`` of dates), so the target travels between machines: a mask may cost
at most ``MAX_PASSES`` such passes (the earlier absolute bar, 5,000,000 cells/s, where a
pass over 1,000,000 ID numbers takes about 10 ms).

``id_number_fpe`` (FF3-1, issue 16) is per value in Python, not vectorised: it runs on
``FPE_VALUES`` distinct ID numbers and is reported as a ratio to one plain
``pyarrow.compute`` pass (``utf8_length``) over the same values.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from typing import Any

import psycopg
import pyarrow as pa
import pyarrow.compute as pc

from bench import data
from gateway.enforcement.masking import derive_case_key, mask_array, mask_batch

N = 1_000_000
# method -> (table, column) holding realistic values of its PI category
SOURCES = {
    "id_number_partial": ("dibao_big", "id_number"),
    "phone_partial": ("dibao_big", "phone"),
    "name_surname": ("dibao_big", "name"),
    "address_district": ("dibao_big", "address"),
    "bank_card_last4": ("payroll", "bank_card"),
    "birth_date_year": ("dibao_big", "start_date"),
    "hash": ("dibao_big", "id_number"),
    "redact": ("dibao_big", "name"),
    # issue 16 (vectorised)
    "round:100": ("dibao_big", "monthly_amount"),
    "bucket:500,1000,2000": ("dibao_big", "monthly_amount"),
    "date_month": ("dibao_big", "start_date"),
    "date_shift": ("dibao_big", "start_date"),
    "keep_last:4": ("dibao_big", "phone"),
    "replace:#{4}": ("dibao_big", "address"),
}
FPE_VALUES = 20_000
MAX_PASSES = 20
DISTINCT = {"hash_distinct": ("hash", ("dibao_big", "id_number"))}
# the small bench query's masked columns (alice: civil.dibao_recipients, limit 20)
SMALL_MASKS = {"id_number": "id_number_partial", "name": "name_surname", "phone": "phone_partial"}
SMALL_ROWS = 20
SMALL_REPEATS = 2000


def _values(conn: psycopg.Connection[Any], table: str, column: str) -> pa.Array:
    rows = conn.execute(f"SELECT {column} FROM {table} LIMIT {N}").fetchall()
    values = [r[0] for r in rows]
    while len(values) < N:
        values.extend(values[: N - len(values)])
    return pa.array(values)


def _distinct(values: pa.Array) -> pa.Array:
    """The same 18-character shape, every value different (region and birth year kept)."""
    return pa.array([f"{v[:12]}{i:06d}" for i, v in enumerate(values.to_pylist())])


def _best_seconds(arr: pa.Array, method: str, key: bytes) -> float:
    mask_array(arr.slice(0, 1000), method, hash_key=key)
    best = float("inf")
    for _ in range(3):
        t = time.perf_counter()
        mask_array(arr, method, hash_key=key)
        best = min(best, time.perf_counter() - t)
    return best


def plain_pass(arr: pa.Array) -> float:
    """Best seconds of one plain ``pyarrow.compute`` pass over ``arr``."""
    if pa.types.is_string(arr.type) or pa.types.is_large_string(arr.type):
        return _best_of(lambda: pc.utf8_length(arr), 5)
    if pa.types.is_temporal(arr.type):
        return _best_of(lambda: pc.year(arr), 5)
    return _best_of(lambda: pc.multiply(arr, 2), 5)


def _fpe_ratio(ids: pa.Array, key: bytes) -> dict[str, float]:
    """Seconds of ``id_number_fpe`` on ``FPE_VALUES`` distinct ID numbers, and the ratio
    to one ``pyarrow.compute`` pass over them."""
    values = _distinct(ids.slice(0, FPE_VALUES))
    mask_array(values.slice(0, 100), "id_number_fpe", hash_key=key)
    fpe = _best_of(lambda: mask_array(values, "id_number_fpe", hash_key=key), 2)
    plain = _best_of(lambda: pc.utf8_length(values), 5)
    return {"values": FPE_VALUES, "seconds": fpe, "cells_per_s": FPE_VALUES / fpe,
            "plain_pc_pass_s": plain, "ratio_to_pc_pass": fpe / plain}  # fmt: skip


def _best_of(work: Callable[[], object], repeats: int) -> float:
    best = float("inf")
    for _ in range(repeats):
        t = time.perf_counter()
        work()
        best = min(best, time.perf_counter() - t)
    return best


def _small_batch_us(conn: psycopg.Connection[Any], key: bytes) -> float:
    """Median µs of ``mask_batch`` on 20 rows with 3 masked columns (and 2 passed
    through), what one governed small query masks."""
    rows = conn.execute(
        "SELECT id_number, name, phone, region_code, monthly_amount FROM dibao_recipients "
        f"LIMIT {SMALL_ROWS}"
    ).fetchall()
    names = ["id_number", "name", "phone", "region_code", "monthly_amount"]
    batch = pa.RecordBatch.from_pydict({n: [r[i] for r in rows] for i, n in enumerate(names)})
    times: list[float] = []
    for _ in range(SMALL_REPEATS):
        t = time.perf_counter()
        mask_batch(batch, SMALL_MASKS, hash_key=key)
        times.append(time.perf_counter() - t)
    return statistics.median(times) * 1e6


def run() -> dict[str, Any]:
    key = derive_case_key(b"k" * 32, "BENCH-1")
    out: dict[str, Any] = {}
    cache: dict[tuple[str, str], pa.Array] = {}
    with psycopg.connect(data.dsn(data.DEMO_DB)) as conn:
        for method, src in SOURCES.items():
            if src not in cache:
                cache[src] = _values(conn, *src)
            best = _best_seconds(cache[src], method, key)
            base = plain_pass(cache[src])
            out[method] = {"seconds": best, "cells_per_s": N / best, "plain_pass_s": base,
                           "ratio_to_pc_pass": best / base}  # fmt: skip
        out["small_batch"] = {
            "rows": SMALL_ROWS,
            "columns": len(SMALL_MASKS),
            "us": _small_batch_us(conn, key),
        }
    for name, (method, src) in DISTINCT.items():
        values = _distinct(cache[src])
        best = _best_seconds(values, method, key)
        base = plain_pass(values)
        out[name] = {"seconds": best, "cells_per_s": N / best, "plain_pass_s": base,
                     "ratio_to_pc_pass": best / base}  # fmt: skip
    out["id_number_fpe"] = _fpe_ratio(cache[("dibao_big", "id_number")], key)
    return out
