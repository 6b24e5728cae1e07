"""The gateway's own clock for comparison schedules: off unless
``SLUICE_COMPARISON_SCHEDULER`` is on; every ``SLUICE_COMPARISON_SCHEDULER_INTERVAL_S``
it triggers every due schedule (``schedules.run_due``). With several replicas, turn it
on in one of them (a trigger moves the schedule's due time first, but two replicas
triggering at the same instant could each queue a run)."""

from __future__ import annotations

import threading

import structlog

from gateway.core.services import Services
from gateway.enforcement.comparison.runs import ModelRunner
from gateway.stewardship.comparison_models import schedules

log = structlog.get_logger("sluice.schedules")


class ScheduleClock:
    def __init__(self, *, services: Services, runner: ModelRunner, interval_s: float) -> None:
        self.services, self.runner, self.interval_s = services, runner, interval_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="sluice-schedules", daemon=True)

    def start(self) -> None:
        self._thread.start()
        self.services.on_close.insert(0, self.close)

    def close(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=10)

    def _loop(self) -> None:
        while not self._stop.wait(self.interval_s):
            try:
                queued = schedules.run_due(services=self.services, runner=self.runner)
                if queued:
                    log.info("schedules_triggered", runs=queued)
            except Exception:  # the clock keeps going; the cause is in the log
                log.exception("schedules_failed")
