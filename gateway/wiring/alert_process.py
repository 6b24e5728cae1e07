"""The alert rule runner's own process, started and kept alive by ``sluice serve``.

Why a process and not a thread: evaluations read, parse and index the day's events;
under the interpreter lock of the serving process that work is taken from the queries
it watches (``audit.alert_watch``). The child runs ``sluice alerts run`` over the same
home and database (the environment is inherited), exits when its parent is gone, and is
started again if it dies: alerts must not stop because one process crashed.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Mapping, Sequence

from audit.lazy_log import get_logger

log = get_logger("sluice.alerts")

ALERTS_COMMAND = (sys.executable, "-m", "gateway.cli.main", "alerts", "run")
"""What ``sluice serve`` runs (``--parent`` added): the settings come from the same
``SLUICE_*`` environment."""


def with_parent(argv: Sequence[str]) -> list[str]:
    """``argv`` told which process it must not outlive (this one)."""
    return [*argv, "--parent", str(os.getpid())]


class AlertProcess:
    """One supervised child; ``start()``, ``stop()`` (SIGTERM, then SIGKILL after
    ``grace_s``). A child that exits on its own is started again after a pause that
    doubles up to ``max_pause_s`` while it keeps failing within a minute."""

    def __init__(self, argv: Sequence[str] = with_parent(ALERTS_COMMAND), *,
                 env: Mapping[str, str] | None = None, grace_s: float = 10.0,
                 max_pause_s: float = 30.0) -> None:  # fmt: skip
        self.argv = list(argv)
        self.env = dict(env) if env is not None else None
        self.grace_s = grace_s
        self.max_pause_s = max_pause_s
        self.proc: subprocess.Popen[bytes] | None = None
        self.starts = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, name="sluice-alert-process",
                                        daemon=True)  # fmt: skip

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc is not None else None

    def start(self) -> AlertProcess:
        self._spawn()
        self._thread.start()
        return self

    def _spawn(self) -> None:
        # our own command (``ALERTS_COMMAND``), or the bench's: never a request's text
        self.proc = subprocess.Popen(self.argv, env=self.env, stdin=subprocess.DEVNULL)  # noqa: S603
        self.starts += 1

    def _watch(self) -> None:
        pause = 1.0
        while not self._stop.is_set():
            proc = self.proc
            assert proc is not None
            began = time.monotonic()
            code = proc.wait()
            if self._stop.is_set():
                return
            log.error("alert_process_exited", code=code, restart_in_s=pause)
            if self._stop.wait(pause):
                return
            pause = min(pause * 2, self.max_pause_s) if time.monotonic() - began < 60 else 1.0
            self._spawn()

    def stop(self) -> None:
        self._stop.set()
        proc = self.proc
        if proc is not None and proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=self.grace_s)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        if self._thread.is_alive():
            self._thread.join(timeout=self.grace_s)


def stop_with_parent(stop: threading.Event, parent: int) -> None:
    """Set ``stop`` once ``parent``, the process that started this one, is gone (this
    one was re-parented, perhaps before it got here: hence the pid passed, not read): a
    gateway killed outright must not leave its rule runner behind."""

    def watch() -> None:
        while os.getppid() == parent:
            if stop.wait(1.0):
                return
        stop.set()

    threading.Thread(target=watch, name="sluice-alert-parent", daemon=True).start()
