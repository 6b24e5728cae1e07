"""``sluice doctor``: check this deployment against ``docs/deploy.md``.

Run it as the gateway's service user with the gateway's environment, after a deploy,
an upgrade or a key rotation, and from monitoring: it reads everything and changes
nothing, and exits 1 on any failure with what to fix (``gateway.cli.doctor``).
"""

from __future__ import annotations

import sys

import click


@click.command("doctor")
@click.option(
    "--timeout",
    "timeout_s",
    type=click.FloatRange(0.1, 60),
    default=3.0,
    show_default=True,
    help="seconds each database, witness or Redis check may take",
)
@click.option(
    "--max-clock-skew",
    "max_skew_s",
    type=click.FloatRange(0, 3600),
    default=2.0,
    show_default=True,
    help="seconds this host's clock may be off the database's",
)
def doctor(timeout_s: float, max_skew_s: float) -> None:
    """Check this deployment against docs/deploy.md.

    Prints each check with ok, FAIL (and what to fix) or skip; exits 1 on any FAIL."""
    from gateway.cli.doctor.config import load_context
    from gateway.cli.doctor.report import Status
    from gateway.cli.doctor.runner import render, run

    results = run(load_context(timeout_s=timeout_s, max_skew_s=max_skew_s))
    for line in render(results):
        click.echo(line)
    if any(r.status is Status.FAIL for r in results):
        sys.exit(1)
