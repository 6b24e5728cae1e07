"""The Python heap of a serving process: what start-up built is frozen out of the
garbage collector's sight, and the young generation is collected less often.

Why: a gateway process holds a few hundred thousand long-lived objects from start-up
(FastAPI's routes and schemas, SQLAlchemy, casbin, the policy engine's bindings,
pyarrow), and every request makes short-lived cycles (asyncio tasks and futures, anyio
cancel scopes, exceptions). With the interpreter's defaults a full collection — every
tracked object traversed — came every few hundred requests and the young one every 700
allocations: at 8 concurrent governed queries, 0.4 ms of CPU per request went to the
collector, 11.7% of the GIL's samples (``bench.profile --gil``: allocations inside
anyio's ``CancelScope`` were where the collections landed). Frozen objects are never
traversed (nor collected: they live as long as the process anyway); a young generation
of 20,000 lets most request garbage die by reference count first.

Called once per process from the app's start-up (``gateway.web.app``), so every way of
serving (``sluice serve``, its workers, ``sluice demo``, the bench) gets it; a second
app in the same process (tests) changes nothing more.
"""

from __future__ import annotations

import gc
import threading

YOUNG = 20_000
THRESHOLDS = (YOUNG, 20, 20)

_lock = threading.Lock()
_settled = False


def settle_heap() -> bool:
    """Collect once, freeze what is left and set ``THRESHOLDS``; True the first time
    in this process, False after."""
    global _settled
    with _lock:
        if _settled:
            return False
        _settled = True
    gc.collect()
    gc.freeze()
    gc.set_threshold(*THRESHOLDS)
    return True
