"""``sluice compare run MODEL``: run a saved comparison model through a gateway.

The run is a job on the gateway (``POST /api/v1/comparison-models/{id}/runs``): each
side governed by the broker and on record before anything is read. Without ``--wait``
the command prints the run's id and status and returns; with it, it polls the run
(``GET /api/v1/comparison-runs/{id}``), shows its progress on stderr, and once the run
is done saves its hit list like a query's result (``gateway.cli.download``: ``FILE.part``
renamed only when complete). A run that failed or was cancelled exits non-zero with the
gateway's reason. ``sluice compare due`` triggers the caller's comparison schedules that
are due (``POST /api/v1/comparison-schedules/run-due``; for cron, where the gateway's
own clock is off) and prints the runs it queued.

    sluice compare run demo.payroll_on_dibao --purpose supervision \\
        --case-ref JW-2026-017 --wait --output hits.csv
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import click

from gateway.cli.remote import (
    Output,
    Remote,
    output_from,
    output_options,
    remote_from,
    remote_options,
)
from gateway.cli.shown import shown

FINISHED = ("done", "failed", "cancelled")
EXIT_NOT_DONE = 4


@click.command("run")
@click.argument("model")
@click.option("--purpose", required=True, help="declared purpose, allowed by every entry")
@click.option("--case-ref", required=True, help="case reference (keys the hit tokens)")
@click.option("--engine", type=click.Choice(["embedded", "spark"]),
              help="comparison engine (default: the gateway's)")  # fmt: skip
@click.option("--model-version", "version", type=click.IntRange(min=1),
              help="the model version to run (default: the newest)")  # fmt: skip
@click.option("--wait", is_flag=True, help="wait for the run to end and save its hits")
@click.option("--timeout", type=click.FloatRange(min=1), default=3600.0, show_default=True,
              help="with --wait: give up waiting after this many seconds")  # fmt: skip
@output_options
@remote_options
def run(model: str, purpose: str, case_ref: str, engine: str | None, version: int | None,
        wait: bool, timeout: float, fmt: str | None, out: Path | None, url: str,
        token_file: Path | None, allow_http: bool, **flags: bool) -> None:  # fmt: skip
    """Run a saved comparison model; with --wait, save its hits.

    MODEL is the model's id, e.g. demo.payroll_on_dibao."""
    output = output_from(fmt, out, **flags)
    remote = remote_from(url, token_file, allow_http)
    body: dict[str, Any] = {"purpose": purpose, "case_ref": case_ref}
    if engine:
        body["engine"] = engine
    if version:
        body["version"] = version
    started = _call(remote, "POST", f"/api/v1/comparison-models/{model}/runs", body, 202)
    run_id = str(started["id"])
    click.echo(f"run {shown(run_id)}: {shown(started['status'])}", err=True)
    if not wait:
        click.echo(json.dumps({"id": run_id, "status": started["status"]}))
        return
    view = _wait(remote, run_id, timeout=timeout, show=output.progress)
    if view["status"] != "done":
        error = view.get("error") or {}
        reason = error.get("message") or error.get("code") or view["status"]
        click.echo(f"run {shown(run_id)} {shown(view['status'])}: {shown(reason)}", err=True)
        raise click.exceptions.Exit(EXIT_NOT_DONE)
    click.echo(f"run {shown(run_id)} done: {view['hits']:,} hits", err=True)
    _save(remote, run_id, output)


def _call(remote: Remote, method: str, path: str, body: dict[str, Any] | None,
          expect: int) -> dict[str, Any]:  # fmt: skip
    import httpx

    from gateway.cli.download import GatewayRefused

    try:
        with httpx.Client(timeout=httpx.Timeout(60.0, connect=10.0)) as client:
            resp = client.request(method, remote.url + path, json=body, headers=remote.headers())
    except httpx.HTTPError as exc:
        raise click.ClickException(f"cannot reach {remote.url}: {exc}") from None
    if resp.status_code != expect:
        raise GatewayRefused(resp.status_code, resp.content[:65536])
    found: dict[str, Any] = resp.json()
    return found


def _wait(remote: Remote, run_id: str, *, timeout: float, show: bool) -> dict[str, Any]:
    """Poll the run until it ends, its progress on stderr."""
    from rich.console import Console
    from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn

    deadline = time.monotonic() + timeout
    # the gateway's text as text (``markup=False``): rich read a run id such as
    # ``[link=http://…]…[/link]`` as markup, a hyperlink and styles the gateway chose
    columns = (TextColumn("{task.description}", markup=False), BarColumn(),
               TaskProgressColumn(), TextColumn("{task.fields[status]}", markup=False))  # fmt: skip
    with Progress(*columns, console=Console(stderr=True), disable=not show) as progress:
        task = progress.add_task(f"run {shown(run_id)}", total=1.0, status="queued")
        while True:
            view = _call(remote, "GET", f"/api/v1/comparison-runs/{run_id}", None, 200)
            progress.update(task, completed=float(view.get("progress") or 0.0),
                            status=shown(view["status"]))  # fmt: skip
            if view["status"] in FINISHED:
                return view
            if time.monotonic() > deadline:
                still = shown(view["status"])
                raise click.ClickException(f"run {shown(run_id)} is still {still} after "
                                           f"{timeout:g} s; it goes on on the gateway")  # fmt: skip
            time.sleep(0.5)


def _save(remote: Remote, run_id: str, output: Output) -> None:
    from gateway.cli.download import fetch, report

    received = fetch(remote, f"/api/v1/comparison-runs/{run_id}/hits", {}, output,
                     label=f"run {shown(run_id)}", method="GET")  # fmt: skip
    report(received, output)


@click.command("due")
@remote_options
def due(url: str, token_file: Path | None, allow_http: bool) -> None:
    """Trigger your comparison schedules that are due; print the runs queued."""
    remote = remote_from(url, token_file, allow_http)
    queued = _call(remote, "POST", "/api/v1/comparison-schedules/run-due", None, 200)
    click.echo(json.dumps(queued))
