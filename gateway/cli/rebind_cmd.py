"""``sluice catalog rebind KIND ID --reason TEXT``: bind a row as it is now, on the host,
after a gateway died between a change's binding and its commit
(``gateway.stewardship.rebind`` says why). Imports the app only when run."""

from __future__ import annotations

from typing import Any

import click

_SECRET = frozenset({"secret_ciphertext", "seal"})


def _values(row: Any) -> dict[str, Any]:
    """The row's columns as the operator checks them (no secret, no seal)."""
    table = row.__table__
    return {c.name: ("<set>" if getattr(row, c.key) is not None else None)
            if c.name in _SECRET else getattr(row, c.key)
            for c in table.columns}  # fmt: skip


def _unavailable(exc: BaseException) -> str:
    """One line naming the database that did not answer (``gateway.cli.unavailable``)."""
    from gateway.cli.unavailable import unavailable_message

    return "catalog " + (unavailable_message(exc) or f"database failed: {type(exc).__name__}")


@click.command("rebind")
@click.argument("kind", type=click.Choice(["entry", "source", "model", "schedule"]))
@click.argument("row_id")
@click.option("--reason", required=True, help="why (on record), e.g. the crash it follows")
@click.option("--yes", is_flag=True, help="do not ask before binding")
def rebind_cmd(kind: str, row_id: str, reason: str, yes: bool) -> None:
    """Make a row whose change never committed (a gateway killed between binding and
    commit) serve again: bind it as it is now, on record. Check its values first: a row
    written back behind the gateway as it was before a change verifies too."""
    from sqlalchemy.exc import SQLAlchemyError

    from audit.records import Actor
    from catalog.errors import SluiceError
    from gateway.cli.host_login import host_login
    from gateway.cli.shown import shown_json
    from gateway.core.settings import load_settings
    from gateway.stewardship.rebind import load, rebind
    from gateway.wiring.container import build_services

    if not reason.strip():
        raise click.BadParameter("say why", param_hint="--reason")
    try:
        services = build_services(load_settings(), run_alert_rules=False)
    except SQLAlchemyError as exc:
        raise click.ClickException(_unavailable(exc)) from None
    try:
        with services.sessions() as session:
            row = load(session, kind, row_id)
            # every field column the entry's seal covers: a replay differs in any of them
            fields = [{"name": f.name, "type": f.type, "level": f.level,
                       "pi_category": f.pi_category, "mask_override": f.mask_override}
                      for f in getattr(row, "fields", [])]  # fmt: skip
            values = {**_values(row), **({"fields": fields} if fields else {})}
            click.echo(shown_json(values))
            if not yes:
                click.confirm(f"bind this {kind} as it is now, so that it governs?", abort=True)
            done = rebind(services.audit, session, kind, row,
                          actor=Actor.cli(host_login()), reason=reason.strip())  # fmt: skip
            session.commit()
    except SluiceError as exc:
        raise click.ClickException(f"{exc.code}: {exc.message}") from None
    except SQLAlchemyError as exc:
        raise click.ClickException(_unavailable(exc)) from None
    finally:
        services.close()
    click.echo(f"{kind} {row_id} bound as it is" if done else
               f"{kind} {row_id} is already the trail's newest state: nothing to do")  # fmt: skip
