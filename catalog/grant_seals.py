"""Seals on the rows that grant: approved access requests and re-identifications.

Why: an approved access request unmasks fields for its requester, and an approved
re-identification releases the real identities behind hits of a run. Whoever can write
the catalog database could otherwise INSERT an approved grant, flip a pending request to
``approved``, extend one's ``expires_at`` or add fields to it, and the next query would
honour it with nothing on the trail (THREAT_MODEL's insider row). Each such row now
carries ``seal``, the deployment's row seal (``catalog.row_seals``: HMAC under a key
derived from ``keys/mask.secret``, which never goes into the database) over every value
that widens access; a row whose seal does not verify grants nothing, is never approved
(``GrantUnsealed``), and is logged.

Values are put in one form before sealing so that the same row seals the same whatever
the database hands back: timestamps as ``catalog.timestamps.utc_text`` (SQLite returns
naive UTC, PostgreSQL aware values), JSON columns as the lists and mappings they decode
to (read them with typed columns: a text query returns JSON as a string on SQLite).

Seals are computed where the ORM writes the rows (``before_insert``/``before_update`` on
the models), so a decision, rejection or revocation through the gateway seals the row
it leaves. An ORM write to a tampered row would launder it; the approvals therefore
check the seal before they change anything (``require_sealed``), and rejecting or
revoking can only narrow.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from sqlalchemy import Connection
from sqlalchemy.orm import object_session

from catalog.errors import GrantUnsealed
from catalog.row_bindings import checker, grant_key
from catalog.row_seals import FirstSeen, RowSeals, as_loaded, seals_for
from catalog.timestamps import utc_text

log = logging.getLogger(__name__)

ACCESS_REQUESTS = "access_requests"
REIDENTIFICATIONS = "reidentification_requests"


def _when(value: datetime | None) -> str | None:
    return None if value is None else utc_text(value)


def access_request_values(row: Any) -> tuple[Any, ...]:
    """What an access request's seal covers: everything that says who is granted what,
    for how long, and by whose approval (``days`` sets ``expires_at`` at approval)."""
    approvers = [a.get("by") for a in row.approvals or []]
    return (row.id, row.requester, row.dataset_id, row.department, list(row.fields or []),
            row.purpose, row.case_ref, row.status, row.days, _when(row.expires_at),
            approvers, row.required_approvals)  # fmt: skip


def reidentification_values(row: Any) -> tuple[Any, ...]:
    """What a re-identification's seal covers: whose, which run and hits, which
    departments must approve and who did, its status and when it was approved (the
    release lasts from then)."""
    approvals = [[a.get("by"), a.get("department")] for a in row.approvals or []]
    required = sorted([str(d), int(n)] for d, n in (row.required or {}).items())
    hits = [int(h) for h in row.hit_ids or []]
    return (row.id, row.requester, row.run_id, hits, required, row.purpose, row.case_ref,
            row.status, approvals, _when(row.approved_at))  # fmt: skip


_VALUES = {ACCESS_REQUESTS: access_request_values, REIDENTIFICATIONS: reidentification_values}


def grant_seal(seals: RowSeals, table: str, row: Any) -> str:
    return seals.seal(table, _VALUES[table](row))


def grant_holds(seals: RowSeals, table: str, row: Any) -> bool:
    """Whether ``row`` (an ORM object or a Core row with the sealed columns and
    ``seal``) was written by a gateway of this deployment. A row whose values are not
    even of the shapes a gateway writes (an approval list that is an object, a hit that
    is no number) holds no seal: never an error for its readers (the broker's grants,
    the listings), which would let one garbled row refuse every query or listing."""
    try:
        values = _VALUES[table](row)
    except (AttributeError, TypeError, ValueError):
        return False
    return seals.holds(table, values, row.seal)


def loaded_row_holds(table: str, row: Any) -> bool:
    """Whether a request loaded through the ORM verifies: what its views (the API's
    listing, the console) say as ``sealed``, so that a row an insider approved or edited,
    which grants nothing, is not shown as a grant like the others (red team 15)."""
    session = object_session(row)
    if session is None:
        return False
    bind = session.get_bind()
    return grant_holds(seals_for(bind), table, row) and checker(bind, refresh=False)(
        grant_key(table, row.id), row.seal)  # fmt: skip


def seal_grant_row(connection: Connection, table: str, target: Any, *, update: bool) -> None:
    """Seal a request the ORM is about to write (``table``'s model fills in its column
    defaults first: they would be set after the seal otherwise).

    An update seals only a row whose loaded values verified: a rejection or a
    revocation (which do not check first, they only narrow) would otherwise seal what
    an insider wrote into it, and the row would read as the gateway's (red team 15).
    Such a write is made and the row stays unsealed, as for users
    (``catalog.row_seals.seal_user_row``)."""
    seals = seals_for(connection)
    if update and not grant_holds(seals, table, as_loaded(target)):
        return
    target.seal = grant_seal(seals, table, target)


_REPORTED = FirstSeen()


def _report(table: str, row: Any) -> None:
    """Log a row that does not verify, once per process per (row, seal)."""
    if _REPORTED.first((table, str(row.id), row.seal)):
        log.warning("grant_unsealed_ignored table=%s id=%s status=%s", table, row.id, row.status)


def sealed_only(bind: Connection, table: str, rows: Any, *, token: object = None) -> list[Any]:
    """The rows of ``table`` whose seal verifies and that are the newest state the trail
    names for them (``catalog.row_bindings``; its newest bindings read at most once per
    ``token``, the catalog generation the caller read); the others are logged and
    dropped (fail closed: as if never granted)."""
    seals, current = seals_for(bind), checker(bind, token=token)
    kept = []
    for row in rows:
        if grant_holds(seals, table, row) and current(grant_key(table, row.id), row.seal):
            kept.append(row)
        else:
            _report(table, row)
    return kept


def require_sealed(bind: Connection, table: str, row: Any) -> None:
    """Refuse to act on a request whose seal does not verify: an approval through the
    gateway would otherwise seal what an insider wrote."""
    holds = grant_holds(seals_for(bind), table, row)
    if not (holds and checker(bind)(grant_key(table, row.id), row.seal)):
        _report(table, row)
        raise GrantUnsealed(f"request {row.id} was changed outside the gateway", request=row.id)
