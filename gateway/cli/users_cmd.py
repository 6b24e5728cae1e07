"""``sluice users``: the administrator's operations on users and roles, on the local
catalog database (operator access to ``SLUICE_HOME``), audited as through the API."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import click
from sqlalchemy.orm import Session

from audit.records import Actor, user_admin_event
from catalog.errors import BadRequest, SluiceError
from gateway.cli.host_login import host_login
from gateway.cli.shown import shown_json
from gateway.core.services import Services
from gateway.core.settings import load_settings
from gateway.stewardship.row_trail import bound_changes
from gateway.stewardship.users import service
from gateway.stewardship.users.partial import merge_named
from gateway.web.console.passwords import LocalAccounts, PasswordTrail, check_new_password
from gateway.web.console.sessions import console_key
from gateway.wiring.container import build_services


@contextmanager
def _admin() -> Iterator[tuple[Services, Session]]:
    services = build_services(load_settings(), run_alert_rules=False)
    try:
        with services.sessions() as session:
            yield services, session
    except SluiceError as exc:
        raise click.ClickException(f"{exc.code}: {exc.message}") from None
    finally:
        services.close()


def _record(services: Services, subject: str, type_: str, details: dict[str, Any]) -> None:
    services.audit.append(user_admin_event(type_=type_, actor=Actor.cli(host_login()),
                                           subject=subject, details=details))  # fmt: skip


@click.group("users")
def users() -> None:
    """Users, their attributes and role assignments (casbin)."""


@users.command("list")
def list_users() -> None:
    """Every user with department, clearance, jurisdiction and roles."""
    with _admin() as (services, session):
        click.echo(shown_json(service.list_users(session=session, services=services)))


def _attribute(name: str, typed: str) -> Any:
    """An option's value as saved: ``--department ""`` is none, and the jurisdiction is
    read as the console's form reads it."""
    if name == "department":
        return typed or None
    if name == "jurisdiction":
        return service.parse_jurisdiction(typed)
    return typed


@users.command("add")
@click.argument("subject")
@click.option("--name", "display_name", default=None, help="display name (needed for a new user)")
@click.option("--department", default=None,
              help='department code (stewards); "" for none  [new user: none]')  # fmt: skip
@click.option("--clearance", default=None, help="L1, L2, L3 or L4  [new user: L1]")
@click.option("--jurisdiction", default=None,
              help="region-code prefixes, comma separated; * for every region; "
              '"" for none  [new user: none]')  # fmt: skip
@click.option(
    "--status",
    type=click.Choice(["active", "disabled"]),
    default=None,
    help="disabled: refused from the next request on (default: keep; new: active)",
)
def add(subject: str, display_name: str | None, department: str | None, clearance: str | None,
        jurisdiction: str | None, status: str | None) -> None:  # fmt: skip
    """Create a user, or change the attributes of one: an option left out keeps its
    value (reserved names such as role names are refused); changes govern the user's
    next request, whatever token they hold."""
    options = {"display_name": display_name, "department": department,
               "clearance": clearance, "jurisdiction": jurisdiction}  # fmt: skip
    named = {k: _attribute(k, v) for k, v in options.items() if v is not None}
    with _admin() as (services, session):
        values, on_record = merge_named(session=session, subject=subject, named=named)
        service.upsert_user(session=session, subject=subject, status=status,
                            audit=services.audit, **values)  # fmt: skip
        # what changed, from what to what (red team 6: the CLI's said only the clearance;
        # red team 29: it said the defaults it had saved over what the operator left out)
        with bound_changes(services.audit, session):  # the row's new state first
            _record(services, subject, "user.updated",
                    {**on_record, **({"status": status} if status else {})})  # fmt: skip
            session.commit()
    click.echo(f"user {subject} saved")


@users.command("assign")
@click.argument("subject")
@click.argument("role")
@click.option("--domain", default="*", show_default=True, help="department code or *")
def assign(subject: str, role: str, domain: str) -> None:
    """Give SUBJECT a ROLE (analyst, steward, security_officer, admin)."""
    with _admin() as (services, session):
        # on record before casbin writes the rule (red team 8)
        service.assign_role(session=session, services=services, subject=subject, role=role,
                            domain=domain, record=lambda: _record(
                                services, subject, "role.assigned",
                                {"role": role, "domain": domain}))  # fmt: skip
        session.commit()
    click.echo(f"{subject} is {role} in {domain}")


@users.command("unassign")
@click.argument("subject")
@click.argument("role")
@click.option("--domain", default="*", show_default=True, help="department code or *")
def unassign(subject: str, role: str, domain: str) -> None:
    """Take ROLE away from SUBJECT; effective on the next request."""
    with _admin() as (services, session):
        service.unassign_role(session=session, services=services, subject=subject, role=role,
                              domain=domain, record=lambda: _record(
                                  services, subject, "role.unassigned",
                                  {"role": role, "domain": domain}))  # fmt: skip
        session.commit()
    click.echo(f"{subject} is no longer {role} in {domain}")


@users.command("set-id-number")
@click.argument("subject")
@click.option(
    "--from-env",
    "env_name",
    default=None,
    metavar="NAME",
    help="read the ID number from this environment variable (else prompt)",
)
def set_id_number(subject: str, env_name: str | None) -> None:
    """Record SUBJECT's own ID number as a keyed token (for the self-lookup alert).
    Never taken as a plain argument (shell history); never stored in clear."""
    number = os.environ.get(env_name, "") if env_name else click.prompt(
        "resident ID number", hide_input=True)  # fmt: skip
    with _admin() as (services, session):
        service.set_id_number(session=session, services=services, subject=subject,
                              id_number=number)  # fmt: skip
        with bound_changes(services.audit, session):
            _record(services, subject, "user.updated", {"id_number": "set"})
            session.commit()
    click.echo(f"own ID number of {subject} recorded as a token")


@users.command("passwd")
@click.argument("subject")
@click.option(
    "--stdin",
    "from_stdin",
    is_flag=True,
    help="read the password from the first line of standard input (scripts)",
)
def passwd(subject: str, from_stdin: bool) -> None:
    """Set SUBJECT's web console password (local accounts: no OIDC provider), stored
    as an argon2id hash; clears failed attempts and any lockout. Read from a prompt
    (typed twice) or standard input, never from an argument (shell history, ps)."""
    if from_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = click.prompt("new password", hide_input=True, confirmation_prompt=True)
    try:
        check_new_password(password)
    except BadRequest as exc:
        raise click.ClickException(exc.message) from None
    with _admin() as (services, session):
        service.get_user(session=session, subject=subject)  # NotFound before the record
        # the user.updated {"password": "set"} event, with the row's digest, is set_password's
        key = console_key(services.settings.home)
        LocalAccounts(
            engine=services.engine, key=key, trail=PasswordTrail(services.audit)
        ).set_password(subject=subject, password=password, set_by=f"cli:{host_login()}")
    click.echo(f"password of {subject} set (failed attempts and any lockout cleared)")
