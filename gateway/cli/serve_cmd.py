"""``sluice serve`` and ``sluice demo``: run the gateway (and set up the demo first).

The client address on record (audit ``client``) is the TCP peer unless the peer is one
of ``SLUICE_TRUSTED_PROXIES``: only then does uvicorn take ``X-Forwarded-For`` and
``X-Forwarded-Proto``. uvicorn's own default (``proxy_headers`` on, loopback trusted,
or whatever ``FORWARDED_ALLOW_IPS`` says) is never used: any process on the gateway's
host could otherwise write whatever address it liked into the audit trail.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import click
import uvicorn

from audit.alert_watch import write_mode
from catalog.demo.users import DEMO_USERS
from gateway.auth.claims import claim_names_from
from gateway.auth.issuer import EMBEDDED_ISSUER, mint_token
from gateway.auth.keys import load_or_create_signing_key
from gateway.auth.lifetimes import MAX_TTL_S
from gateway.cli.banner import banner
from gateway.cli.token_cmd import record_issued
from gateway.core.listening import record_listening
from gateway.core.logs import configure_logging
from gateway.core.settings import Settings, load_settings
from gateway.web.app import create_app
from gateway.web.console.passwords import demo_console_passwords
from gateway.web.http_protocol import Utf8RequestLineProtocol
from gateway.wiring.alert_process import AlertProcess
from gateway.wiring.container import build_services
from gateway.wiring.demo import setup_demo


def check_dependencies(settings: Settings) -> None:
    """Refuse to start, in one line naming the setting and the address, when a store
    the gateway cannot work without does not answer (today: Redis for the limits).
    Before uvicorn runs, so that several workers do not each print a traceback."""
    if not settings.redis_url:
        return
    from catalog.errors import Unavailable
    from gateway.enforcement.limits import build_limiter

    limiter = build_limiter(rate=settings.rate_limit, daily_rows=settings.daily_row_quota,
                            redis_url=settings.redis_url)  # fmt: skip
    try:
        limiter.check()
    except Unavailable as exc:
        raise click.ClickException(f"cannot start: {exc.message}") from None


def proxy_options(settings: Settings) -> dict[str, Any]:
    """uvicorn's forwarded-header options for ``settings`` (none trusted by default)."""
    trusted = list(settings.trusted_proxies)
    return {"proxy_headers": bool(trusted), "forwarded_allow_ips": trusted or [""]}


ALERTS_OPTION = click.option(
    "--alerts", "alerts_mode", type=click.Choice(["process", "thread", "none"]),
    default="process", show_default=True,
    help="where the alert rules run: a child process (`sluice alerts run`, off the "
    "requests' CPU), a thread of the gateway, or none here (run `sluice alerts run` "
    "yourself, one per home)",
)  # fmt: skip


def runner_setting(mode: str) -> str:
    """``SLUICE_ALERT_RUNNER`` for the gateway of ``--alerts MODE``: passed to its
    settings, never written into this process's environment (a command run in process,
    as tests do, left it there for every later gateway of that process)."""
    return "thread" if mode == "thread" else "external"


@contextmanager
def workers_told(runner: str) -> Iterator[None]:
    """The environment uvicorn's worker processes read their settings from, told where
    the rules run while they start; as it was afterwards."""
    before = os.environ.get("SLUICE_ALERT_RUNNER")
    os.environ["SLUICE_ALERT_RUNNER"] = runner
    try:
        yield
    finally:
        if before is None:
            os.environ.pop("SLUICE_ALERT_RUNNER", None)
        else:
            os.environ["SLUICE_ALERT_RUNNER"] = before


def alerts_where(mode: str, home: Path) -> AlertProcess | None:
    """The rules' own process for ``process`` (it reads the same environment); where
    they run recorded in the home for ``sluice doctor``, which reads only the
    environment (``audit.alert_watch.write_mode``; not by other commands, which build
    the services too)."""
    with contextlib.suppress(OSError):  # a home not writable fails the gateway later
        write_mode(home, runner_setting(mode))
    return AlertProcess(env=os.environ).start() if mode == "process" else None


def stop_alerts(child: AlertProcess | None) -> None:
    if child is not None:
        child.stop()


@click.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True, help="interface to bind")
@click.option("--port", default=8000, show_default=True, help="TCP port")
@click.option("--workers", default=1, show_default=True, help="uvicorn worker processes")
@ALERTS_OPTION
def serve(host: str, port: int, workers: int, alerts_mode: str) -> None:
    """Serve the gateway with the settings from the SLUICE_* environment.

    Behind a reverse proxy set SLUICE_TRUSTED_PROXIES (its addresses) and
    SLUICE_PUBLIC_URL (the address users reach, e.g. https://sluice.example.gov/):
    the DCAT catalog's links and the console's OIDC redirect URI are built from it,
    never from a request's Host header (unset: the address the request reached).
    """
    settings = load_settings(alert_runner=runner_setting(alerts_mode))
    check_dependencies(settings)
    proxies = proxy_options(settings)
    configure_logging(env=settings.env, level=settings.log_level)
    child = alerts_where(alerts_mode, settings.home)
    record_listening(settings.home, host, port)  # for `sluice doctor`'s allowed hosts
    for line in banner(settings, base_url=f"http://{host}:{port}", workers=workers,
                       alerts=alerts_line(alerts_mode, child)):  # fmt: skip
        click.echo(line)
    try:
        if workers > 1:
            with workers_told(settings.alert_runner):
                uvicorn.run("gateway.web.app:create_app", factory=True, host=host, port=port,
                            workers=workers, log_level="warning", access_log=False,
                            http=Utf8RequestLineProtocol, log_config=None,
                            **proxies)  # fmt: skip
            return
        app = create_app(settings)
        uvicorn.run(app, host=host, port=port, log_level="warning", access_log=False,
                    http=Utf8RequestLineProtocol, log_config=None, **proxies)  # fmt: skip
    finally:
        stop_alerts(child)
        click.echo("Sluice gateway stopped")


def alerts_line(mode: str, child: AlertProcess | None) -> str:
    if child is not None:
        return f"own process (pid {child.pid}, `sluice alerts run`)"
    if mode == "thread":
        return "a thread of the gateway"
    return "not here: run `sluice alerts run` for this home"


@click.command("demo")
@click.option("--no-serve", is_flag=True, help="only set up; do not start the gateway")
@click.option("--host", default="127.0.0.1", show_default=True, help="interface to bind")
@click.option("--port", default=8000, show_default=True, help="TCP port")
@click.option(
    "--ttl",
    default=8 * 3600,
    show_default=True,
    type=click.IntRange(1, MAX_TTL_S),
    help="lifetime of printed tokens (s)",
)
@ALERTS_OPTION
def demo(no_serve: bool, host: str, port: int, ttl: int, alerts_mode: str) -> None:
    """Set up the demo departments, catalog and users (idempotent), print a token per
    demo user, then serve on HOST:PORT. Only in demo mode (``SLUICE_DEMO``)."""
    settings = load_settings(alert_runner=runner_setting(alerts_mode))
    if not settings.demo or settings.env == "production":
        # red team 8: on a production home it made ``root`` an admin and ``sam`` a
        # security officer, overwrote same-named users and printed their tokens, off
        # the trail: one person on the host held both halves of every two-person rule
        raise click.ClickException(
            "demo mode is off (SLUICE_DEMO=false, or SLUICE_ENV=production): sluice demo"
            " would add the demo users,"
            " an admin and a security officer among them, to this deployment; use"
            " sluice users and sluice token instead"
        )
    check_dependencies(settings)
    services = build_services(settings)
    click.echo(f"Sluice home: {settings.home.resolve()}")

    bar_state: dict[str, int] = {}

    def progress(table: str, rows: int, total: int) -> None:
        if rows == total or rows - bar_state.get(table, 0) >= max(total // 4, 1):
            bar_state[table] = rows
            click.echo(f"  {table:<22} {rows:>9,} / {total:,} rows")

    click.echo("Setting up the demo departments (finance, civil affairs, audit)...")
    result = setup_demo(services, progress=progress)
    if result.generated is None:
        click.echo(f"  reusing demo data in {result.data_dir}")
    else:
        a = result.generated.anomalies
        click.echo(
            f"  planted anomalies: {a.payroll_on_dibao} payroll people drawing dibao, "
            f"{a.deceased_still_active} dead recipients still active"
        )
    key = load_or_create_signing_key(settings.home)
    base = f"http://{host}:{port}"
    click.echo("\nDemo tokens (export one, e.g. TOKEN=...; or run `sluice token USER`):")
    for user in DEMO_USERS:
        from types import SimpleNamespace

        issued = int(time.time())
        holder = SimpleNamespace(**user)
        token = mint_token(
            user=holder, key=key, issuer=EMBEDDED_ISSUER, audience=settings.oidc_audience,
            ttl=ttl, claim_names=claim_names_from(settings), now=issued,
        )  # fmt: skip
        # on record before it is printed, as ``sluice token`` does (red team 8)
        record_issued(services.audit, holder, issued=issued, ttl=ttl, kid=key.kid)
        roles = ",".join(user["roles"])
        click.echo(f"  {user['subject']:<7} ({roles}): {token}")
    click.echo(
        "\nWeb console passwords (new at every `sluice demo`, stored as argon2 hashes;"
        " `sluice users passwd USER` sets one):"
    )
    for subject, password in demo_console_passwords(services).items():
        click.echo(f"  {subject:<7} {password}")
    click.echo(
        f"\nURLs:\n  {base}/console         web console (zh-CN; ?lang=en for English)\n"
        f"  {base}/docs            interactive API docs\n"
        f"  {base}/api/v1/catalog?q=低保   catalog search\n"
        f"  {base}/api/v1/catalog.jsonld  DCAT catalog\n"
        f"  {base}/.well-known/jwks.json  token keys\n"
        f"  {base}/healthz"
    )
    if no_serve:
        services.close()
        return
    click.echo("")
    child = alerts_where(alerts_mode, settings.home)
    record_listening(settings.home, host, port)
    for line in banner(settings, base_url=base, alerts=alerts_line(alerts_mode, child)):
        click.echo(line)
    click.echo("(Ctrl-C to stop)")
    app = create_app(settings, services)
    try:
        uvicorn.run(app, host=host, port=port, log_level="warning", access_log=False,
                    http=Utf8RequestLineProtocol, log_config=None,
                    **proxy_options(settings))  # fmt: skip
    finally:
        stop_alerts(child)
        services.close()  # flushes the audit trail and signs a final checkpoint
        click.echo("Sluice gateway stopped")
