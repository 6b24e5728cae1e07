"""The checks in the order of ``docs/deploy.md``, and the report they make.

Order matters only for reading: settings first (without them nothing else can run),
then the database (the role and trigger checks share its one connection), the home,
the services the gateway talks to. A check that raises is a failure of that check,
never the end of the report.
"""

from __future__ import annotations

from collections.abc import Callable

from gateway.cli.doctor import config, database, home, network
from gateway.cli.doctor.report import GUIDE, Context, Result, Status, fail

Check = Callable[[Context], list[Result]]

CHECKS: tuple[Check, ...] = (
    config.check_environment,
    config.check_master_key,
    config.check_token_issuer,
    config.check_trusted_proxies,
    config.check_allowed_hosts,
    config.check_metrics_token,
    database.check_database,
    database.check_schema,
    database.check_durability,
    database.check_triggers,
    database.check_runtime_role,
    database.check_master_keys_on_hand,
    database.check_clock,
    home.check_home,
    home.check_shared_secrets,
    home.check_seal,
    home.check_witness_file,
    home.check_alert_rules,
    network.check_witnesses,
    network.check_redis,
    network.check_jwks,
)


def run(ctx: Context, checks: tuple[Check, ...] = CHECKS) -> list[Result]:
    """Every check's lines; the settings' own line first."""
    results = config.check_settings(ctx)
    if ctx.settings is None:
        return results
    try:
        for check in checks:
            try:
                results.extend(check(ctx))
            except Exception as exc:  # one broken check must not hide the others
                name = check.__name__.removeprefix("check_").replace("_", " ")
                results.append(fail(name, f"the check itself failed ({type(exc).__name__})",
                                    f"report this; meanwhile check by hand ({GUIDE})"))  # fmt: skip
    finally:
        ctx.close()
    return results


def render(results: list[Result]) -> list[str]:
    lines = [f"Sluice doctor: this deployment against {GUIDE}"]
    for result in results:
        lines.extend(result.lines())
    failed = sum(r.status is Status.FAIL for r in results)
    passed = sum(r.status is Status.OK for r in results)
    skipped = sum(r.status is Status.SKIP for r in results)
    lines.append(f"{passed} ok, {failed} failed, {skipped} skipped")
    return lines
