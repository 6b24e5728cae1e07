"""The measurements behind the masking modules' design, as ratios taken in one run.

``gateway/enforcement/masking/tokens.py``, ``small.py`` and ``address.py`` explain *why*
they are shaped as they are; the figures that justify each choice used to be written
into their docstrings, where they went stale with every new machine, Python, pyarrow or
OpenSSL. They live here instead, each printed as a ratio against its alternative
measured in the same run (CPU time, best of several repeats): re-run this when touching
those modules, and re-tune a threshold when its ratio moves.

    .venv/bin/python -m bench.masking_design

No database: the values are the demo generator's (seed 42), in memory.
``python -m bench masking`` (``bench/masking_bench.py``) measures the throughput of
each method on 1,000,000 values on PostgreSQL data; this measures the choices.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Callable
from itertools import islice
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from catalog.demo.generator import Sizes
from catalog.demo.identity import bank_card
from catalog.demo.people import PersonAllocator
from catalog.demo.pools import build_pools
from catalog.demo.rows import World, dibao_recipients
from gateway.enforcement.masking import address, derive_case_key, mask_array, mask_batch, small
from gateway.enforcement.masking.tokens import HmacTokens, hmac_tokens, native_available

SEED = 42
KEY = derive_case_key(b"k" * 32, "BENCH-1")


def cpu_best(call: Callable[[], object], *, repeat: int = 5, number: int = 1) -> float:
    """Best CPU seconds of one call over ``repeat`` rounds of ``number`` calls."""
    call()  # warm caches and lazy imports
    best = float("inf")
    for _ in range(repeat):
        started = time.process_time()
        for _ in range(number):
            call()
        best = min(best, (time.process_time() - started) / number)
    return best


def demo_columns(n: int) -> dict[str, pa.Array]:
    """``n`` dibao recipients' ID numbers, names, phones, addresses and start dates, and
    ``n`` bank cards, as the demo generator makes them."""
    sizes = Sizes()
    pools = build_pools(SEED)
    world = World(seed=SEED, pools=pools, plan=sizes.plan(), people=PersonAllocator(pools.names))
    rows = list(islice(dibao_recipients(world, sizes.of("dibao_recipients")), n))
    rng = world.rng("bench_cards")
    return {
        "id_number": pa.array([r[0] for r in rows]),
        "name": pa.array([r[1] for r in rows]),
        "phone": pa.array([r[2] for r in rows]),
        "address": pa.array([r[3] for r in rows]),
        "start_date": pa.array([r[6] for r in rows]),
        "bank_card": pa.array([bank_card(rng) for _ in range(n)]),
    }


# ---------------------------------------------------------------- tokens.py


def tokens_design(ids: pa.Array) -> dict[str, float]:
    """``hash``: cached keyed states, per-object costs, dictionary encoding, the kernel."""
    distinct = [f"{v[:12]}{i:06d}".encode() for i, v in enumerate(ids.to_pylist())]
    tokens = HmacTokens(KEY)
    block = KEY.ljust(64, b"\0")
    rekeyed = cpu_best(lambda: [hmac.digest(KEY, v, hashlib.sha256) for v in distinct])
    cached = cpu_best(lambda: tokens.digests(distinct))
    inner = hashlib.sha256(block)
    copies = cpu_best(lambda: [inner.copy() for _ in distinct])
    states = [inner.copy() for _ in distinct]
    digests = cpu_best(lambda: [s.digest() for s in states])
    python_path = cpu_best(lambda: tokens.token_array(distinct))
    derive = cpu_best(lambda: HmacTokens(KEY), number=2000)
    lookup = cpu_best(lambda: hmac_tokens(KEY), number=2000)
    out = {
        "hmac.digest re-keyed per value / cached inner+outer states": rekeyed / cached,
        "share of the Python path in two copy() + two digest() per value":
            2 * (copies + digests) / python_path,
        "deriving the keyed states / the cached lookup (hmac_tokens)": derive / lookup,
    }  # fmt: skip
    array = pa.array(distinct, pa.binary())
    for native in (False, True) if native_available() else (False,):
        plain = cpu_best(lambda n=native: tokens.array_tokens(array, native=n))
        encoded = cpu_best(lambda n=native: pc.take(
            tokens.array_tokens(array.dictionary_encode().dictionary, native=n),
            array.dictionary_encode().indices))  # fmt: skip
        path = "native kernel" if native else "Python path"
        out[f"dictionary encoding on distinct values / without ({path})"] = encoded / plain
    if native_available():
        native_s = cpu_best(lambda: tokens.array_tokens(array))
        out["Python path / native kernel, distinct values (CPU)"] = python_path / native_s
    return out


# ---------------------------------------------------------------- small.py

SMALL_METHODS = {
    "id_number_partial": "id_number",
    "phone_partial": "phone",
    "name_surname": "name",
    "address_district": "address",
    "bank_card_last4": "bank_card",
    "birth_date_year": "start_date",
    "hash": "id_number",
}


SIZES = (8, 16, 24, 32, 48, 64, 96, 128, 192, 256, 384, 512, 768, 1024)


def _small_ratio(values: pa.Array, method: str) -> float:
    """Vectorised CPU time over per-value Python CPU time (> 1: Python is faster)."""
    vectorised = cpu_best(lambda: mask_array(values, method, hash_key=KEY, small_max=0), number=20)
    python = cpu_best(
        lambda: mask_array(values, method, hash_key=KEY, small_max=len(values)), number=20
    )
    return vectorised / python


def small_design(columns: dict[str, pa.Array]) -> dict[str, float]:
    """Per-value Python against the vectorised masks (native kernels included), at 20
    rows and at ``SMALL_MAX``, and where the vectorised mask starts to win."""
    out: dict[str, float] = {}
    for rows in (20, small.SMALL_MAX):
        for method, column in SMALL_METHODS.items():
            ratio = _small_ratio(columns[column].slice(0, rows), method)
            out[f"{method}, {rows} values: vectorised / per-value Python"] = ratio
    for method, column in SMALL_METHODS.items():
        won = next((n for n in SIZES if _small_ratio(columns[column].slice(0, n), method) < 1), 0)
        if won:
            what = f"{method}: first size where vectorised wins / SMALL_MAX"
        else:  # a lower bound: per-value Python still wins at the largest size tried
            what = f"{method}: vectorised never wins up to {SIZES[-1]} values; that / SMALL_MAX"
        out[what] = (won or SIZES[-1]) / small.SMALL_MAX
    batch = pa.RecordBatch.from_pydict({n: columns[n].slice(0, 20) for n in
                                        ("id_number", "name", "phone", "address")})  # fmt: skip
    masks = {"id_number": "id_number_partial", "name": "name_surname", "phone": "phone_partial"}

    def forced_vectorised() -> None:
        for name, method in masks.items():
            mask_array(batch.column(name), method, hash_key=KEY, small_max=0)

    vectorised = cpu_best(forced_vectorised, number=50)
    python = cpu_best(lambda: mask_batch(batch, masks, hash_key=KEY), number=50)
    out["the small query's 20 rows × 3 masks: vectorised / per-value Python"] = vectorised / python
    return out


# ---------------------------------------------------------------- address.py


def address_design(addresses: pa.Array) -> dict[str, float]:
    """The pattern on every value against the pattern on distinct prefixes."""
    every = cpu_best(lambda: address.address_by_pattern(addresses))
    prefixes = cpu_best(lambda: address.address_district(addresses))
    return {"address pattern on every value / on distinct prefixes": every / prefixes}


def run(n: int = 100_000) -> dict[str, Any]:
    columns = demo_columns(n)
    return {
        "values": n,
        "native_kernel": native_available(),
        "ratios": {
            **tokens_design(columns["id_number"]),
            **small_design(columns),
            **address_design(columns["address"]),
        },
    }


def main() -> None:
    result = run()
    print(f"masking design ratios, {result['values']:,} demo values, CPU time, best of 5 "
          f"(native kernel built: {result['native_kernel']})")  # fmt: skip
    for what, ratio in result["ratios"].items():
        print(f"  {ratio:7.2f}×  {what}")


if __name__ == "__main__":
    main()
