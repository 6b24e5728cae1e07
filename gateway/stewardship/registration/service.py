"""Registering, editing, listing and introspecting sources (keyword-only service functions).

Order in ``register_source``/``update_source`` matters: permission, static validation,
the effective-target checks on the merged settings and secret
(``gateway.enforcement.sources.guard``), a live connection test pinned to the checked address,
and only then encryption and the row; the audit event records the effective target.
The functions never commit — the caller's unit of work does — so a failure at any step
leaves nothing saved. Error messages from adapters are scrubbed of the secret once more
here (defence in depth: the adapters already scrub).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from pydantic import SecretStr
from sqlalchemy import select
from sqlalchemy.orm import Session

from adapters import registry
from adapters.base import ObjectInfo, SourceAdapter, SourceConfig
from adapters.http_config import refuse_secret_params
from adapters.redaction import scrub
from audit.event_types import EventType
from catalog import service as catalog
from catalog.entry_seals import entry_key
from catalog.errors import BadRequest, NotFound, SluiceError, SourceFailed
from catalog.models import DatasetStatus, Source
from catalog.suggestions import suggest
from catalog.timestamps import utc_text
from gateway.core.services import Services
from gateway.enforcement.sources.connect import (
    claims_on,
    limits_from_settings,
    open_source_adapter,
    secret_aad,
    source_config,
)
from gateway.enforcement.sources.guard import checked_target, pinned_config
from gateway.enforcement.sources.targets import EffectiveTarget, stored_target, tombstone_record
from gateway.stewardship.registration.access import emit, require_reader, require_steward
from gateway.stewardship.registration.frozen import forget_reads, refuse_repointed_at_frozen
from gateway.stewardship.registration.schemas import (
    ColumnProposal,
    ObjectProposal,
    SourceIn,
    SuggestionOut,
    checked,
)
from gateway.stewardship.row_locks import hold_rows
from gateway.stewardship.row_trail import (
    bind_until_commit,
    bind_written,
    hold_current,
    require_current,
    require_entry_current,
)
from policies.authorizer import RoleAuthorizer
from policies.decision import UserContext

__all__ = [
    "check_and_connect",
    "deregister_source",
    "get_source",
    "introspect",
    "list_sources",
    "open_source_adapter",
    "refuse_secrets_in_settings",
    "register_source",
    "update_source",
]

MAX_INTROSPECT_OBJECTS = 200
SECRET_KEYS = frozenset({"password", "passwd", "pwd", "secret", "token", "api_key", "apikey"})


# the audit record's key for the identity the server gave (``server_claims``)
SERVER_IDENTITY = "server_identity"


def _plain(secret: SecretStr | str | None) -> str | None:
    if isinstance(secret, SecretStr):
        return secret.get_secret_value() or None
    return secret or None


def refuse_secrets_in_settings(settings: dict[str, Any]) -> None:
    """A secret belongs in ``secret``, which is sealed under the keyring; settings are
    stored and shown in clear, so a key that names a secret is refused before anything
    is tested or written (the API and the console's "test" button alike)."""
    if catalog.DEREGISTERED in settings:
        raise BadRequest(f"settings.{catalog.DEREGISTERED} is reserved")
    for key in settings:
        if key.lower().replace("-", "_") in SECRET_KEYS:
            raise BadRequest(f"settings.{key} looks like a secret; pass it as `secret`")
    # nor in a URL's query: ``?api_key=…`` in an HTTP source's base URL or object path
    refuse_secret_params(settings)


@contextmanager
def scrubbed(secret: str | None) -> Iterator[None]:
    """Re-raise any failure with the secret removed from its message; driver errors
    that escaped an adapter become ``SourceFailed`` (never a 500 with a DSN in it)."""
    try:
        yield
    except SluiceError as exc:
        exc.message = scrub(exc.message, [secret])
        exc.args = (exc.message,)
        exc.details = {k: scrub(str(v), [secret]) for k, v in exc.details.items()}
        raise
    except Exception as exc:
        raise SourceFailed(
            f"source connection failed: {scrub(f'{type(exc).__name__}: {exc}', [secret])}"
        ) from None


def check_and_connect(
    *, session: Session, services: Services, department: str, source_id: str,
    config: SourceConfig,
) -> tuple[str, dict[str, Any] | None]:  # fmt: skip
    """Check the effective target (``gateway.enforcement.sources.guard``), connect to it
    (pinned) and list objects; return the redacted display form and the target's audit
    record. Public so that the console's "test" button runs the very checks a
    registration runs, never a second path; it writes nothing, and errors carry no
    secret."""
    reached: list[str] = []
    # a source's changed settings claim what they reach as a registration does, before
    # every other department's source whenever registered: compared only with the older
    # ones, an old source re-pointed at a later department's database reached it, and
    # then locked its owner out as the older claim (red team 11)
    claimed = claims_on(
        settings=services.settings, sessions=services.sessions,
        keyring=services.keyring, kind=config.kind, department=department,
        source_id=source_id, registered=None,
    )  # fmt: skip
    limits = replace(limits_from_settings(services.settings), claimed_servers=claimed,
                     on_server=reached.append)  # fmt: skip
    with scrubbed(config.secret):
        target: EffectiveTarget | None = checked_target(
            session=session, settings=services.settings, limits=limits,
            department=department, source_id=source_id, config=config,
        )  # fmt: skip
        pinned = pinned_config(config, target)
        registry.validate_config(pinned, limits)
        adapter = registry.open_adapter(pinned, limits)
        try:
            adapter.test_connection()
        finally:
            adapter.close()
        record = target.as_record() if target is not None else None
        if record is not None and reached:  # the server's own answer (server_claims)
            record = {**record, SERVER_IDENTITY: reached[-1]}
        return redacted_target(config), record


def redacted_target(config: SourceConfig) -> str:
    """The target as a registration shows it and the trail records it: the adapter's
    redaction, with the secret scrubbed out of whatever it still shows. One function,
    so the console's connection test (``tested``) records what a registration would."""
    return scrub(registry.redact(config), [config.secret])


def _seal(
    *, session: Session | None, services: Services, source_id: str, secret: str | None
) -> catalog.SealedSecret | None:
    """The secret encrypted under the keyring (bound to the source id), for the catalog
    to store; the keyring writes a data key, in ``session`` (after the audit event) or,
    without one, in a transaction of its own."""
    if secret is None:
        return None
    return services.keyring.encrypt(secret, aad=secret_aad(source_id), session=session)


def register_source(
    *,
    session: Session,
    services: Services,
    user: UserContext,
    source_id: str,
    department: str,
    kind: str,
    display_name: str,
    settings: dict[str, Any],
    secret: SecretStr | str | None = None,
) -> Source:
    """Register a source after a successful live connection test; nothing is added to
    the session unless every step succeeded. The input is held to the API's schema
    (``checked``: ``SourceIn``) whichever door it came through (``sluice sources add``
    and the console's form took any id or name: red team 16)."""
    checked(SourceIn, {"id": source_id, "department": department, "kind": kind,
                       "display_name": display_name, "settings": settings})  # fmt: skip
    require_steward(services=services, user=user, department=department, action="source:register")
    catalog.require_new_source(session=session, source_id=source_id, department=department)
    refuse_secrets_in_settings(settings)
    plain = _plain(secret)
    config = SourceConfig(kind=kind, settings=dict(settings), secret=plain)
    redacted, target = check_and_connect(
        session=session, services=services, department=department, source_id=source_id,
        config=config,
    )  # fmt: skip
    # added before its record: its id's write lock (held to the commit) and a fresh read
    # of the id (``row_trail._hold_new``), 409 if a registration of it committed meanwhile
    source = catalog.add_source(
        session=session, source_id=source_id, department=department, kind=kind,
        display_name=display_name, settings=settings, redacted=redacted,
        created_by=user.subject, sealed_secret=None,
    )  # fmt: skip
    emit(
        services=services,
        user=user,
        event_type=EventType.SOURCE_REGISTERED,
        resource=f"source:{source_id}",
        department=department,
        details={"kind": kind, "redacted": redacted, "target": target},
    )
    # the data key written in the session after the record (SQLite's one writer)
    catalog.set_secret(source, _seal(session=session, services=services, source_id=source_id,
                                     secret=plain))  # fmt: skip
    source.server_identity = _identity(target)
    session.flush()
    return source


def _identity(record: dict[str, Any] | None) -> str | None:
    value = (record or {}).get(SERVER_IDENTITY)
    return value if isinstance(value, str) else None


def update_source(
    *,
    session: Session,
    services: Services,
    user: UserContext,
    source_id: str,
    display_name: str | None = None,
    settings: dict[str, Any] | None = None,
    secret: SecretStr | str | None = None,
) -> Source:
    """Change a source's name, settings or secret; a changed connection is tested
    before anything is written."""
    source = catalog.get_source(session=session, source_id=source_id)
    require_steward(
        services=services, user=user, department=source.department, action="source:edit"
    )
    require_current(session, source)  # another change of it in flight: 409
    changed: list[str] = []
    redacted = source.redacted
    target: dict[str, Any] | None = None
    before_settings = dict(source.settings or {})
    new_settings = dict(source.settings if settings is None else settings)
    plain = _plain(secret)
    if settings is not None or plain is not None:
        refuse_secrets_in_settings(new_settings)
        current = (
            plain
            if plain is not None
            else source_config(keyring=services.keyring, source=source).secret
        )
        # the merged settings and secret, checked as a registration is
        redacted, target = check_and_connect(
            session=session, services=services, department=source.department,
            source_id=source_id,
            config=SourceConfig(kind=source.kind, settings=new_settings, secret=current),
        )  # fmt: skip
        changed += [
            name for name, given in (("settings", settings), ("secret", plain)) if given is not None
        ]
        # an entry of this source brought to read what an officer froze (red team 10)
        refuse_repointed_at_frozen(
            session=session, source=source, settings=new_settings, trail=services.audit
        )
    if display_name is not None and display_name != source.display_name:
        changed.append("display_name")
    # a new secret sealed first, its data key committed on its own: the source's new
    # state (the ciphertext's digest) is bound on the trail before this session writes
    # anything (SQLite's one writer); a change failing later leaves a data key unused
    sealed = _seal(session=None, services=services, source_id=source_id, secret=plain)
    hold_current(session, source)  # its lock from here (not over the connection test)
    emit(
        services=services,
        user=user,
        event_type=EventType.SOURCE_UPDATED,
        resource=f"source:{source_id}",
        department=source.department,
        details={"changed": changed, "redacted": redacted, "target": target},
    )
    catalog.edit_source(
        session=session, source_id=source_id, settings=new_settings, redacted=redacted,
        display_name=display_name, sealed_secret=sealed,
    )  # fmt: skip
    if target is not None:  # a changed connection: the server it reaches now
        source.server_identity = _identity(target)
    if settings is not None and settings != before_settings:
        forget_reads(session=session, source_id=source_id)  # told by the system left
    # the source's new state on the trail before the flush (SQLite's one writer): its
    # row from before, written back behind the gateway, reads nothing (row_trail)
    bind_until_commit(services.audit, session)
    session.flush()
    return source


def deregister_source(
    *, session: Session, services: Services, user: UserContext, source_id: str
) -> list[str]:
    """Withdraw a source: a steward of its department only. Its entries are unpublished
    first (queries on them are then "not found"), its stored secret is deleted, and the
    action is on record before anything changes (the trail itself is never touched).
    Queries already running finish on the connection they hold. Returns the entries
    that were published."""
    source = catalog.get_source(session=session, source_id=source_id)
    require_steward(
        services=services, user=user, department=source.department, action="source:edit"
    )
    hold_current(session, source)  # another change of it in flight: 409, before the record
    entries = catalog.entries_of_source(session=session, source_id=source_id)
    published = [d.id for d in entries if d.status != DatasetStatus.DRAFT]
    # every entry's lock and checks before the record: a 409 after it (another save in
    # flight, a torn read) left 'source.deregistered' ok on the trail while the source
    # stayed registered and served; drafts too, so that a publication of one waits for
    # this and sees the source gone (it was 409 after 'dataset.published') (red team 25)
    hold_rows(session, [entry_key(d.id) for d in entries])
    for entry in entries:
        require_entry_current(session, entry)
    emit(
        services=services,
        user=user,
        event_type=EventType.SOURCE_DEREGISTERED,
        resource=f"source:{source_id}",
        department=source.department,
        details={"kind": source.kind, "redacted": source.redacted,
                 "entries": [d.id for d in entries], "unpublished": published,
                 "secret_deleted": source.secret_ciphertext is not None},
    )  # fmt: skip
    for entry in entries:  # each published entry's new state first (row_trail)
        if entry.status != DatasetStatus.DRAFT:
            bind_written(services.audit, session, entry, status=DatasetStatus.DRAFT.value)
    # the system it reached stays the department's (without credentials, in the tombstone)
    reached = stored_target(source.kind, dict(source.settings or {}))
    unpublished = catalog.deregister_source(
        session=session, source_id=source_id, by=user.subject,
        at=utc_text(datetime.now(UTC)),
        target=tombstone_record(reached) if reached is not None else None,
        bind=lambda: bind_until_commit(services.audit, session),  # the tombstone first
    )  # fmt: skip
    session.flush()
    return unpublished


def get_source(*, session: Session, authorizer: RoleAuthorizer, user: UserContext,
               source_id: str) -> Source:  # fmt: skip
    source = catalog.get_source(session=session, source_id=source_id)
    require_reader(authorizer=authorizer, user=user, department=source.department)
    return source


def list_sources(*, session: Session, authorizer: RoleAuthorizer,
                 user: UserContext) -> list[Source]:  # fmt: skip
    """A steward sees their department's sources (if a steward there by role too); an
    admin sees all."""
    query = select(Source).order_by(Source.id)
    if "admin" not in user.roles:
        require_reader(authorizer=authorizer, user=user, department=user.department or "any")
        query = query.where(Source.department == user.department)
    return [s for s in session.scalars(query) if not catalog.is_deregistered(s)]


def columns_of(adapter: SourceAdapter, obj: ObjectInfo, services: Services) -> list[ColumnProposal]:
    rows = limits_from_settings(services.settings).sample_rows
    sample = adapter.sample(obj.name, rows=rows)
    columns = []
    for column in obj.columns:
        values = (
            sample.column(column.name).to_pylist() if column.name in sample.column_names else []
        )
        found = suggest(column.name, column.type, values)
        columns.append(
            ColumnProposal(
                name=column.name,
                type=column.type,
                suggestion=SuggestionOut(**found.to_dict()),
            )
        )
    return columns


def introspect(
    *,
    session: Session,
    services: Services,
    user: UserContext,
    source_id: str,
    objects: list[str] | None = None,
) -> list[ObjectProposal]:
    """The source's objects with columns, types and a classification proposal per
    column from a bounded sample (``AdapterLimits.sample_rows`` rows per object)."""
    source = catalog.get_source(session=session, source_id=source_id)
    require_steward(
        services=services, user=user, department=source.department, action="source:edit"
    )
    secret = source_config(keyring=services.keyring, source=source).secret
    with scrubbed(secret):
        adapter = open_source_adapter(services=services, source=source)
        try:
            found = adapter.list_objects()
            if objects is not None:
                missing = sorted(set(objects) - {o.name for o in found})
                if missing:
                    raise NotFound(f"source {source_id} has no object(s) {', '.join(missing)}")
                found = [o for o in found if o.name in set(objects)]
            if len(found) > MAX_INTROSPECT_OBJECTS:
                raise BadRequest(
                    f"source {source_id} has {len(found)} objects; name at most "
                    f"{MAX_INTROSPECT_OBJECTS} in `objects`"
                )
            return [
                ObjectProposal(name=o.name, kind=o.kind, columns=columns_of(adapter, o, services))
                for o in found
            ]
        finally:
            adapter.close()
