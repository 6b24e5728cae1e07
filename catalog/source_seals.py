"""Seals on the rows that say where a department's data is read from: sources.

Why: an entry is sealed (``catalog.entry_seals``) and names its source, but the source's
row says which database or file that is and which server its owner claimed. Whoever can
write the catalog database could otherwise re-point civil's source at another database
(``UPDATE sources SET settings = …``): every civil entry then answered from there, and a
civil steward could draft and publish entries over finance's tables under civil's name,
the registration's ownership checks never asked; or rewrite the ownership claims
(``server_identity``, ``created_at``: which department reached a server first) another
source's connection is checked against (THREAT_MODEL, item 3). Each source row now
carries ``seal``, the deployment's row seal (``catalog.row_seals``: HMAC under a key
derived from ``keys/mask.secret``) over its id, department, kind, connection settings,
secret (its digest and key id), the server it reached and when it was registered; a
query of an entry whose source does not verify is refused (``SourceUnsealed``, on
record), and so is every connect while any source's row does not verify (the ownership
checks read every other department's row).

Not covered: its display name and the redacted form shown to stewards (no read depends
on them). Seals are written where the ORM writes the rows; an update seals only a row
whose loaded values verified, as for entries. The one Core write, a connection's
``server_identity`` (``gateway.enforcement.sources.server_claims``), seals what it writes
from the row as read (``resealed``), or leaves an unsealed row unsealed.
"""

from __future__ import annotations

import hashlib
import logging
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any

import orjson
from sqlalchemy import Connection
from sqlalchemy.orm import object_session

from catalog.errors import SourceUnsealed
from catalog.row_bindings import Check, checker, settle
from catalog.row_seals import FirstSeen, RowSeals, as_loaded, seals_for
from catalog.timestamps import utc_text

log = logging.getLogger(__name__)

SOURCES = "sources"


def source_values(row: Any) -> tuple[Any, ...]:
    """What a source's seal covers (the module)."""
    if not isinstance(row.settings, dict | None):
        raise TypeError("settings is not an object")
    settings = orjson.dumps(row.settings or {}, option=orjson.OPT_SORT_KEYS).decode()
    secret = row.secret_ciphertext
    digest = None if secret is None else hashlib.sha256(bytes(secret)).hexdigest()
    created = None if row.created_at is None else utc_text(row.created_at)
    return (row.id, row.department, row.kind, settings, digest, row.secret_key_id,
            row.server_identity, created)  # fmt: skip


def source_seal(seals: RowSeals, row: Any) -> str:
    return seals.seal(SOURCES, source_values(row))


def source_holds(seals: RowSeals, row: Any, seal: object = None) -> bool:
    """Whether ``row`` (an ORM ``Source`` or a row with its columns; ``seal`` when its
    own is under another name) was written by a gateway of this deployment; a row of
    shapes no gateway writes holds no seal (never an error for its readers)."""
    try:
        values = source_values(row)
        found = row.seal if seal is None else seal
    except (AttributeError, TypeError, ValueError):
        return False
    return seals.holds(SOURCES, values, found)


def source_key(source_id: object) -> str:
    """A source's key on the trail (``catalog.row_bindings``)."""
    return f"{SOURCES}/{source_id}"


def source_current(check: Check, source_id: object, seal: object) -> bool:
    """Whether a source whose seal verified is the newest state the trail names for it."""
    return check(source_key(source_id), seal)


def loaded_source_holds(source: Any, *, refresh: bool = False, token: object = None) -> bool:
    """Whether a ``Source`` loaded through the ORM verifies and is the newest state the
    trail names: what the stewards' views say as ``sealed`` (``refresh``: the trail read
    first, at most once per ``token``, as a check that decides does)."""
    session = object_session(source)
    if session is None:
        return False
    bind = session.get_bind()
    seals = seals_for(bind)
    if not source_holds(seals, source):
        return False
    current = checker(bind, refresh=refresh, token=token)
    if source_current(current, source.id, source.seal):
        return True
    if not refresh:  # a view's ``sealed``: no wait
        return False
    # verified, not the newest the trail names: a steward's change of it may be in
    # flight (bound before its commit): read it again until they agree (``settle``)

    def read() -> bool:
        session.refresh(source)
        return source_holds(seals, source) and source_current(current, source.id, source.seal)

    return settle(read, lambda agreed: not agreed)


def seal_source_row(connection: Connection, target: Any, *, update: bool) -> None:
    """Seal a source the ORM is about to write; an update only if its loaded values
    verified (the module)."""
    seals = seals_for(connection)
    if update and not source_holds(seals, as_loaded(target)):
        return
    if not update:
        if target.settings is None:
            target.settings = {}
        if target.created_at is None:
            target.created_at = datetime.now(UTC)
    target.seal = source_seal(seals, target)


def resealed(seals: RowSeals, row: Any, **changes: Any) -> str | None:
    """The seal a source ``row`` (as read, with its ``seal``) takes with ``changes``
    made by a Core write; None when the row did not verify (left unsealed)."""
    if not source_holds(seals, row):
        return None
    return source_seal(seals, SimpleNamespace(**{**row._asdict(), **changes}))


_REPORTED = FirstSeen()


def refuse_unsealed(
    source_id: str, seal: str | None, *, entry: str | None = None
) -> SourceUnsealed:
    """The refusal for a source whose row does not verify (logged once per seal, with its
    id). The refusal names the ``entry`` read through it, never the source: analysts
    never see a source, and a connect refused for another department's source must not
    name it to a steward (red team 19)."""
    if _REPORTED.first((source_id, seal)):
        log.warning("source_unsealed id=%s", source_id)
    which = "a registered source" if entry is None else f"the source of dataset {entry!r}"
    return SourceUnsealed(f"{which} was changed outside the gateway (its connection or "
                          "ownership claims); nothing is read through it until its "
                          "sealed values are restored")  # fmt: skip
