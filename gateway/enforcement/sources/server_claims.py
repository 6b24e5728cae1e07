"""Which department a PostgreSQL server's database belongs to, by what the server says
it is rather than by the address that reached it.

The ownership check (``guard.refuse_foreign_target``) compares addresses, ports and
database names, so another department's database stayed reachable through another
address of its server: a LAN address, a relay, a pooler, another DNS name (THREAT_MODEL,
seventh pass). Every connection to a PostgreSQL source already asks the server which it
is (``adapters.sql_config``: ``<system identifier>/<database>``, shared by streaming
replicas, which hold the same data). That answer is kept on the source
(``Source.server_identity``), and a connection is refused when another department's
source *registered before it* reached the same server and database — the rule the
address check follows ("a system another department registered first"), so the earlier
owner is never locked out by a later impostor. A deregistered source keeps its identity:
a withdrawn system is not handed to the next department that asks.

A source registered before migration 0016 has no identity stored: before a later
department's PostgreSQL source is checked, it is connected and asked
(``connect.learn_unknown_identities``). Left open (THREAT_MODEL): MySQL/MariaDB sources
are not asked (MariaDB has no
``@@server_uuid``). Spark's JDBC reads, opened in the JVM, ask through a session
statement instead (``comparison.spark.sources.server_guard``).
"""

from __future__ import annotations

from datetime import datetime

import structlog
from sqlalchemy import or_, select, update
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from catalog.errors import SluiceError
from catalog.models import Source
from catalog.row_bindings import Check, bind_core_write, checker, settle
from catalog.row_seals import RowSeals, seals_for
from catalog.source_seals import (
    refuse_unsealed,
    resealed,
    source_current,
    source_holds,
    source_key,
)

log = structlog.get_logger("sluice.sources")
_S = Source.__table__.c


def claimed_elsewhere(
    session: Session, *, department: str, source_id: str, registered: datetime | None,
    known: str | None = None,
) -> tuple[tuple[str, str], ...]:  # fmt: skip
    """``(identity, department)`` of every other department's source registered before
    ``registered`` (``None``: a source being registered now, after all of them), and of
    the later ones too unless they hold ``known``, the identity this source holds: a
    source that reaches another server or database than the one it held (its host name
    moved) claims it now, as a new registration would. A source without one yet (a row
    from before migration 0016, first connected now) keeps its registration's place: a
    later impostor registered while it could not be asked must not lock it out. A change
    of settings is a registration (``registered=None``, in ``check_and_connect``). Comparing
    only the sources older than it let an old source be re-pointed at a database a
    later department registered — and then, as the older claim, lock its owner out
    (red team 11)."""
    query = select(Source.server_identity, Source.department, Source.created_at).where(
        Source.department != department,
        Source.id != source_id,
        Source.server_identity.is_not(None),
    )
    return tuple(
        (str(i), str(d))
        for i, d, created in session.execute(query)
        if registered is None or created < registered or (known is not None and i != known)
    )


_SEALED = (_S.id, _S.department, _S.kind, _S.settings, _S.secret_ciphertext,
           _S.secret_key_id, _S.server_identity, _S.created_at, _S.seal)  # fmt: skip


def require_sources_sealed(session: Session) -> None:
    """``SourceUnsealed`` while any source's row does not verify (``catalog.source_seals``):
    a connect is checked against every other department's address and claim, and a row
    re-pointed or whose claim was cleared behind the gateway, or written back as it was
    before a change through it (the trail read first), would decide it. One read of
    every source per connect (adapters are opened once per source and settings)."""
    seals, current = seals_for(session.connection()), checker(session.connection())
    for row in session.execute(select(*_SEALED)):
        if source_holds(seals, row) and source_current(current, row.id, row.seal):
            continue
        # verified but not the newest the trail names: a steward's save of it may be in
        # flight (bound before its commit); every connect waited on no one (red team 20)
        if not (source_holds(seals, row) and _settled(session, seals, current, row.id)):
            raise refuse_unsealed(row.id, row.seal)


def _settled(session: Session, seals: RowSeals, current: Check, source_id: str) -> bool:
    """Whether the source's row, read again until it and the trail agree, does."""

    def read() -> bool:
        row = session.execute(select(*_SEALED).where(_S.id == source_id)).first()
        return (
            row is not None
            and source_holds(seals, row)
            and source_current(current, row.id, row.seal)
        )

    return settle(read, lambda agreed: not agreed)


def remember_identity(sessions: sessionmaker[Session], source_id: str, identity: str) -> None:
    """Store the identity a connection of ``source_id`` reached, when it is new, sealed
    from the row as read (a row that did not verify keeps its seal, so stays refused);
    a compare-and-set on that seal, its new state bound on the trail first
    (``catalog.row_bindings.bind_core_write``; bound back if the write loses
    the compare-and-set). Best effort: the connection was checked against what
    is stored already; a catalog that cannot take the write now is asked again on the
    next connection."""
    try:
        with sessions() as session:
            row = session.execute(select(*_SEALED).where(_S.id == source_id)).first()
            if row is None or row.server_identity == identity:
                return
            seal = resealed(seals_for(session.connection()), row, server_identity=identity)
            # before the write: on SQLite the embedded trail shares the one writer
            bind_core_write(session, source_key(source_id), seal, row.seal)
            moved = session.execute(
                update(Source)
                .where(Source.id == source_id)
                .where(or_(Source.server_identity.is_(None), Source.server_identity != identity))
                .where(Source.seal == row.seal if row.seal is not None else Source.seal.is_(None))
                .values(server_identity=identity, seal=row.seal if seal is None else seal)
                .execution_options(synchronize_session=False)
            )
            if getattr(moved, "rowcount", 0):
                session.commit()
    except (SQLAlchemyError, SluiceError) as exc:  # the catalog or the trail refusing
        log.warning("source_identity_not_stored", source=source_id, error=type(exc).__name__)
