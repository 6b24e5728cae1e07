"""``sluice sources|datasets|keys``: the steward operations on the local catalog database.

The CLI runs with operator access to ``SLUICE_HOME`` (and so to the keys); it still acts
*as* a named steward (``--as``) so the same department rule and audit events apply as
through the API. Secrets are never taken as a plain option (shell history, ``ps``):
``--secret-env NAME`` reads an environment variable, ``--ask-secret`` prompts.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any, TypeVar

import click
from sqlalchemy.orm import Session

from audit.event_types import EventType
from audit.events import FamilyEvent
from audit.records import Actor, AuditEvent, key_event
from audit.sink import AppendInFlight, AuditSink, SealView
from audit.writer import Receipt
from catalog.errors import SluiceError
from catalog.schemas import DatasetPatch, FieldPatch, StewardDatasetOut
from gateway.cli.host_login import host_login
from gateway.cli.shown import shown_json
from gateway.core.services import Services
from gateway.core.settings import load_settings
from gateway.stewardship import registration
from gateway.stewardship.registration.schemas import SourceOut
from gateway.stewardship.users.directory import ACTIVE, load_identity
from gateway.wiring.container import build_services
from policies.decision import UserContext

T = TypeVar("T")


def _echo(value: Any) -> None:
    click.echo(shown_json(value))


@contextmanager
def _unit_of_work(as_user: str | None) -> Iterator[tuple[Services, Session, UserContext]]:
    """Services, one session committed only on success, and the acting steward."""
    services = build_services(load_settings(), run_alert_rules=False)
    # every event the command appends names the host login that acted for the steward
    services.audit = _ViaCli(services.audit, f"cli:{host_login()}")
    try:
        with services.sessions() as session:
            user = _acting_user(session, as_user)
            try:
                yield services, session, user
                session.commit()
            except SluiceError as exc:
                session.rollback()
                raise click.ClickException(f"{exc.code}: {exc.message}") from None
    finally:
        # the trail flushed and a final checkpoint signed over what the command
        # appended; its writer thread ends (it went on, in the tests' processes)
        services.close()


def _acting_user(session: Session, subject: str | None) -> UserContext:
    """The steward as a request of theirs would see them: roles from casbin, and only
    while active (red team 8: a suspended steward's ``users`` row still acted here)."""
    if not subject:
        raise click.UsageError("name the steward to act as with --as USER")
    stored = load_identity(session.connection(), subject)
    if stored is None:
        raise click.ClickException(f"no user {subject!r} in the catalog")
    if stored.status != ACTIVE:
        raise click.ClickException(
            f"user {subject!r} is {stored.status or 'not active'}: refused, as through the API"
        )
    return stored.context


class _ViaCli:
    """The trail of a command run for a steward: each event says which host login
    acted (``details.via``), since its actor is the steward (red team 8)."""

    def __init__(self, inner: AuditSink, via: str) -> None:
        self._inner, self._via = inner, via

    @property
    def seal(self) -> SealView:
        return self._inner.seal

    def _mark(
        self, event: Mapping[str, object] | FamilyEvent
    ) -> Mapping[str, object] | FamilyEvent:
        if isinstance(event, AuditEvent | FamilyEvent):
            return dataclasses.replace(event, details={**event.details, "via": self._via})
        return event

    def append(self, event: Mapping[str, object] | FamilyEvent) -> Receipt:
        return self._inner.append(self._mark(event))

    def submit(self, event: Mapping[str, object] | FamilyEvent) -> AppendInFlight:
        return self._inner.submit(self._mark(event))

    def append_nowait(self, event: Mapping[str, object] | FamilyEvent) -> None:
        self._inner.append_nowait(self._mark(event))

    def close(self) -> None:
        self._inner.close()


def _as_option(func: Callable[..., T]) -> Callable[..., T]:
    return click.option("--as", "as_user", required=True, help="steward subject to act as")(func)


def _pairs(values: tuple[str, ...]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for item in values:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise click.BadParameter(f"expected KEY=VALUE, got {item!r}")
        out[key] = value
    return out


@click.group("sources")
def sources() -> None:
    """Register and inspect partner departments' sources."""


@sources.command("add")
@_as_option
@click.argument("source_id")
@click.option("--kind", required=True, help="postgresql, mysql, sqlite, csv, parquet, http_json…")
@click.option("--name", "display_name", required=True, help="display name")
@click.option("--department", help="defaults to the steward's department")
@click.option("--url", help="connection URL without a password (settings.url)")
@click.option("--setting", "setting", multiple=True, help="KEY=VALUE, repeatable")
@click.option("--secret-env", help="read the secret (password, token) from this variable")
@click.option("--ask-secret", is_flag=True, help="prompt for the secret without echo")
def sources_add(
    as_user: str,
    source_id: str,
    kind: str,
    display_name: str,
    department: str | None,
    url: str | None,
    setting: tuple[str, ...],
    secret_env: str | None,
    ask_secret: bool,
) -> None:
    """Register SOURCE_ID after a live connection test."""
    settings = _pairs(setting)
    if url:
        settings["url"] = url
    secret: str | None = None
    if secret_env:
        secret = os.environ.get(secret_env)
        if secret is None:
            raise click.ClickException(f"environment variable {secret_env} is not set")
    elif ask_secret:
        secret = click.prompt("secret", hide_input=True)
    with _unit_of_work(as_user) as (services, session, user):
        source = registration.register_source(
            session=session,
            services=services,
            user=user,
            source_id=source_id,
            department=department or user.department or "",
            kind=kind,
            display_name=display_name,
            settings=settings,
            secret=secret,
        )
        _echo(SourceOut.of(source).model_dump(mode="json"))


@sources.command("list")
@_as_option
def sources_list(as_user: str) -> None:
    """Sources of the steward's department (redacted)."""
    with _unit_of_work(as_user) as (services, session, user):
        found = registration.list_sources(session=session, authorizer=services.authorizer,
                                          user=user)  # fmt: skip
        _echo([SourceOut.of(s).model_dump(mode="json") for s in found])


@sources.command("introspect")
@_as_option
@click.argument("source_id")
@click.option("--object", "objects", multiple=True, help="only these objects")
def sources_introspect(as_user: str, source_id: str, objects: tuple[str, ...]) -> None:
    """Objects, columns and proposed classifications of SOURCE_ID."""
    with _unit_of_work(as_user) as (services, session, user):
        found = registration.introspect(
            session=session,
            services=services,
            user=user,
            source_id=source_id,
            objects=list(objects) or None,
        )
        _echo([o.model_dump(mode="json") for o in found])


@click.group("datasets")
def datasets() -> None:
    """Draft, classify and publish catalog entries."""


@datasets.command("create")
@_as_option
@click.argument("source_id")
@click.argument("object_name")
@click.option(
    "--id", "dataset_id", help="DEPARTMENT.NAME (the source's department); default: DEPT.OBJECT"
)
@click.option("--title-zh", default="")
@click.option("--title-en", default="")
def datasets_create(
    as_user: str,
    source_id: str,
    object_name: str,
    dataset_id: str | None,
    title_zh: str,
    title_en: str,
) -> None:
    """A draft entry from OBJECT_NAME of SOURCE_ID, pre-classified."""
    with _unit_of_work(as_user) as (services, session, user):
        dataset = registration.create_draft(
            session=session,
            services=services,
            user=user,
            source_id=source_id,
            object_name=object_name,
            dataset_id=dataset_id,
            title_zh=title_zh,
            title_en=title_en,
        )
        _echo(StewardDatasetOut.of(dataset).model_dump(mode="json"))


@datasets.command("classify")
@_as_option
@click.argument("dataset_id")
@click.option("--field", "fields", multiple=True, help="NAME=LEVEL[:PI_CATEGORY], repeatable")
def datasets_classify(as_user: str, dataset_id: str, fields: tuple[str, ...]) -> None:
    """Set fields' level and PI category, e.g. ``--field sfzh=L4:id_number``."""
    patch: dict[str, FieldPatch] = {}
    for name, value in _pairs(fields).items():
        level, _, category = str(value).partition(":")
        try:
            given = {"level": level, "pi_category": category}  # an empty part: unchanged
            patch[name] = FieldPatch.model_validate({k: v for k, v in given.items() if v})
        except ValueError as exc:
            raise click.BadParameter(f"{name}: {exc}") from None
    with _unit_of_work(as_user) as (services, session, user):
        dataset = registration.update_dataset(
            session=session,
            services=services,
            user=user,
            dataset_id=dataset_id,
            patch=DatasetPatch(fields=patch),
        )
        _echo(StewardDatasetOut.of(dataset).model_dump(mode="json"))


@datasets.command("publish")
@_as_option
@click.argument("dataset_id")
def datasets_publish(as_user: str, dataset_id: str) -> None:
    """Publish DATASET_ID with its current classification."""
    with _unit_of_work(as_user) as (services, session, user):
        dataset = registration.publish(
            session=session, services=services, user=user, dataset_id=dataset_id
        )
        click.echo(f"published {dataset.id} (schema version {dataset.schema_version})")


@datasets.command("refresh")
@_as_option
@click.argument("dataset_id")
def datasets_refresh(as_user: str, dataset_id: str) -> None:
    """Follow schema drift of DATASET_ID's source object."""
    with _unit_of_work(as_user) as (services, session, user):
        report = registration.refresh_schema(
            session=session, services=services, user=user, dataset_id=dataset_id
        )
        _echo(report.model_dump(mode="json"))


@click.group("keys")
def keys() -> None:
    """Master keys of the secret store (envelope encryption)."""


@keys.command("rotate")
def keys_rotate() -> None:
    """New master key; every data key re-wrapped; old ciphertexts keep working.

    With SLUICE_MASTER_KEY set, the new key is SLUICE_MASTER_KEY itself (the old one given
    as SLUICE_MASTER_KEY_PREVIOUS): nothing is written into SLUICE_HOME. Without it, a new
    key file in SLUICE_HOME/keys/master."""
    from adapters.credentials import NothingToRotate

    services = build_services(load_settings(), run_alert_rules=False)
    try:
        if services.audit.seal.sealed:  # its record could not be written (red team 8)
            raise click.ClickException(
                f"{services.audit.seal.message()}: no key rotation until unsealed"
            )
        try:
            report = services.keyring.rotate_master()
        except NothingToRotate as exc:  # the env key's successor comes from the secret manager
            raise click.ClickException(str(exc)) from None
        # on record once the new key is current (the record names it); an append that
        # fails makes the command fail (red team 6: rotations were off the trail)
        services.audit.append(key_event(
            type_=EventType.KEYS_ROTATED, actor=Actor.cli(host_login()),
            resource="keys:master", details={"kid": report.master_kid,
            "previous_kid": report.previous_kid, "rewrapped": report.rewrapped,
            "rewrapped_from": list(report.rewrapped_from)},
        ))  # fmt: skip
    finally:
        services.close()
    click.echo(
        f"master key {report.master_kid} is current (was {report.previous_kid}); "
        f"{report.rewrapped} data key(s) re-wrapped"
    )


@keys.command("status")
def keys_status() -> None:
    """How many data keys each master key wraps."""
    services = build_services(load_settings(), run_alert_rules=False)
    try:
        _echo(
            {"current": services.keyring.current_master_kid, "data_keys": services.keyring.status()}
        )
    finally:
        services.engine.dispose()


COMMANDS = (sources, datasets, keys)
