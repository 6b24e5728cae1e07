"""An in-process stack sampler for the bench gateway (``SLUICE_BENCH_SAMPLE=FILE``).

Why: on the shared 2-core machine py-spy falls seconds behind and keeps a few dozen
samples of a 10 s run (``bench.profile``), too few to split 5 ms of Python. This thread
reads every other thread's stack (``sys._current_frames``) every ``period_s`` and counts
collapsed stacks; as it needs the GIL to run, a sample lands where a thread released it,
which is where the Python time is spent or a wait begins. Bench-only: never imported by
the product.
"""

from __future__ import annotations

import os
import sys
import threading
import time
from collections import Counter
from pathlib import Path
from types import FrameType


def _stack(frame: FrameType | None) -> str:
    names: list[str] = []
    while frame is not None:
        code = frame.f_code
        names.append(f"{code.co_name} ({code.co_filename.rsplit('/', 2)[-1]}:{frame.f_lineno})")
        frame = frame.f_back
    return ";".join(reversed(names))


class Sampler:
    """Samples until ``stop()``, writing collapsed stacks (``stack count``) to ``out``
    every second (and per-thread CPU to ``out.threads``)."""

    def __init__(self, out: Path, period_s: float = 0.005) -> None:
        self.out, self.period_s = out, period_s
        self.counts: Counter[str] = Counter()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="bench-sampler", daemon=True)

    def start(self) -> Sampler:
        self._thread.start()
        return self

    def _run(self) -> None:
        me = threading.get_ident()
        saved = time.monotonic()
        while not self._stop.is_set():
            for ident, frame in sys._current_frames().items():
                if ident != me:
                    self.counts[_stack(frame)] += 1
            if time.monotonic() - saved > 1.0:  # the process may be killed, not stopped
                self.save()
                saved = time.monotonic()
            time.sleep(self.period_s)

    def save(self) -> None:
        self.out.write_text("".join(f"{s} {n}\n" for s, n in list(self.counts.items())))
        self.out.with_suffix(".threads").write_text(
            "".join(f"{name}\t{cpu:.3f}\n" for name, cpu in thread_cpu().items())
        )


def thread_cpu() -> dict[str, float]:
    """CPU seconds (user + system) of each live thread by name, pool workers summed: which
    thread — route, event loop, audit writer, alert runner, monitor — the CPU goes to."""
    tick = os.sysconf("SC_CLK_TCK")
    out: dict[str, float] = {}
    for thread in threading.enumerate():
        try:
            stat = Path(f"/proc/self/task/{thread.native_id}/stat").read_text()
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[1].split()
        name = thread.name.split("_", 1)[0] if thread.name.startswith("AnyIO") else thread.name
        name = "AnyIO worker" if "AnyIO" in name else name
        out[name] = out.get(name, 0.0) + (int(fields[11]) + int(fields[12])) / tick
    return out

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        self.save()
