"""``sluice alerts run``: the live alert rules and their channels in a process of their
own (``gateway.wiring.alert_process``: ``sluice serve`` starts one by itself)."""

from __future__ import annotations

import os
import signal
import threading
from types import FrameType

import click


@click.group("alerts")
def alerts() -> None:
    """Live alert rules, run beside the gateway."""


@alerts.command("run")
@click.option("--parent", type=int, default=None, hidden=True,
              help="exit when this process (the one that started this one) is gone")  # fmt: skip
def run(parent: int | None) -> None:
    """Evaluate the alert rules over this home's audit trail and push new alerts to the
    configured channels until stopped (SIGTERM or Ctrl-C). Run one per home beside
    gateways started with SLUICE_ALERT_RUNNER=external; `sluice serve` runs one itself."""
    from gateway.core.logs import configure_logging
    from gateway.core.settings import load_settings
    from gateway.wiring.alert_process import stop_with_parent
    from gateway.wiring.alerts import run_alerts

    settings = load_settings()
    configure_logging(env=settings.env, level=settings.log_level)
    stop = threading.Event()

    def _stop(_signum: int, _frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    if parent is not None:
        stop_with_parent(stop, parent)
    click.echo(f"Sluice alert rules running over {settings.home.resolve()} (pid {os.getpid()})")
    run_alerts(settings, stop)
