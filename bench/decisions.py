"""Scenario 3: per-decision time of the embedded PDP, cold (engine) and cached."""

from __future__ import annotations

import statistics
import time
from datetime import UTC, datetime
from typing import Any

from catalog.demo.entries import dataset_entries
from catalog.models import Dataset, Field
from policies.cache import CachedPDP
from policies.decision import UserContext
from policies.inputs import build_input, dataset_input, request_input
from policies.pdp import EmbeddedPDP

ALICE = UserContext(subject="alice", department=None, roles=("analyst",), clearance="L3",
                    jurisdiction=("430121",))  # fmt: skip


def _dataset() -> Dataset:
    entry = next(e for e in dataset_entries() if e.id == "civil.dibao_recipients")
    values = entry.model_dump(mode="json", exclude={"fields"})
    ds = Dataset(**values, status="published", schema_version=1)
    ds.fields = [Field(**f.model_dump(mode="json"), position=i) for i, f in enumerate(entry.fields)]
    return ds


def decision_input() -> Any:
    request = request_input(purpose="supervision", case_ref="BENCH-1",
                            fields=["id_number", "name", "phone", "region_code", "monthly_amount"],
                            filters=[], order_by=[], group_by=[], unmask=[])  # fmt: skip
    return build_input(user=ALICE, dataset=dataset_input(_dataset()), request=request, grants=[],
                       now=datetime.now(UTC), rows_remaining_today=2_000_000)  # fmt: skip


def _timed(fn: Any, n: int) -> dict[str, float]:
    times = []
    for _ in range(n):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    times.sort()
    return {"p50_ms": statistics.median(times) * 1000, "mean_ms": statistics.fmean(times) * 1000,
            "p99_ms": times[int(n * 0.99)] * 1000, "n": n}  # fmt: skip


def run() -> dict[str, Any]:
    engine = EmbeddedPDP()
    di = decision_input()
    engine.decide(di)  # compile the bundle
    cold = _timed(lambda: engine.decide(di), 300)
    cached = CachedPDP(engine)
    cached.decide(di)
    warm = _timed(lambda: cached.decide(di), 20_000)
    return {"cold": cold, "cached": warm}
