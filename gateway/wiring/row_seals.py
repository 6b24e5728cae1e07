"""Row seals at start-up: the key registered for the catalog database, and rows from
before the migrations that sealed them (0017: users and role lines; 0018: access and
re-identification requests; 0019: entries and their fields; 0020: comparison models,
versions and schedules; 0021: sources; 0022: entries' seals naming their fields) sealed
once per deployment (``catalog.row_seals``, ``catalog.grant_seals``,
``catalog.entry_seals`` and ``catalog.comparison_seals`` say why; the entries' families:
``gateway.wiring.entry_adoption``).

Adoption is the one moment an unsealed row is trusted, so it happens once per table
family: while ``row_seal_adoption`` has no row for it (``1`` users and role lines,
``2`` access requests, ``3`` re-identifications, ``4`` entries and their fields, ``5``
comparison models, versions and schedules, ``6`` sources, ``7`` entries sealed under
0019 sealed again over their fields where that seal verifies). A new
database gets the rows from the migrations (nothing to adopt); an upgraded one at its
first ``build_services`` after the upgrade, which puts ``catalog.rows_sealed`` on the
trail, durably — its details count what is sealed, by table (``users``, ``rules``,
``access_requests``, ``reidentification_requests``, ``datasets``, ``fields``,
``comparison_models``, ``comparison_model_versions``, ``comparison_schedules``,
``sources``, ``entry_field_sets``: only the
families adopted at that start) — then seals every row without a seal and writes the
rows in one transaction, before any request is
served. So a deployment that adopted its users at 0017 adopts its grant rows at its
first start after 0018, and only those. The event comes first: the embedded catalog
and trail share one SQLite writer, and an adoption interrupted between the two is done
again at the next start, on record again. A second ``catalog.rows_sealed`` naming a
table therefore means its adoption row was deleted behind the gateway (the only way
back to adoption): an officer's question.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

from sqlalchemy import Connection, Engine, Table, and_, select, text, update

from audit.records import Actor, key_event
from catalog.access_requests import AccessRequest
from catalog.comparison_models import ComparisonModel, ComparisonModelVersion
from catalog.comparison_schedules import ComparisonSchedule
from catalog.comparison_seals import comparison_seal
from catalog.grant_seals import ACCESS_REQUESTS, REIDENTIFICATIONS, grant_seal
from catalog.models import Source, User
from catalog.reidentifications import ReidentificationRequest
from catalog.row_seals import RULES, USERS, RowSeals, register, rule_values, user_row_values
from catalog.source_seals import SOURCES, source_seal
from gateway.enforcement.masking import load_mask_secret
from gateway.wiring.entry_adoption import ENTRIES, FIELD_SETS, read_entries, seal_entries


class Trail(Protocol):
    """What adoption needs of the audit log: one durable append."""

    def append(self, event: Mapping[str, object], /) -> object: ...


SYSTEM = Actor("gateway", None, ("system",))  # the gateway itself, at start-up
_U = User.__table__.c
# typed columns: ``jurisdiction`` is JSON, which a text query returns as a string on SQLite
_USERS_SQL = select(_U.subject, _U.department, _U.clearance, _U.jurisdiction, _U.status,
                    _U.id_number_hash).where(_U.seal.is_(None))  # fmt: skip
_SEAL_USER = text("UPDATE users SET seal = :seal WHERE subject = :s AND seal IS NULL")
_SEAL_RULE = text("UPDATE casbin_rule SET seal = :seal WHERE id = :id AND seal IS NULL")
_RULES_SQL = text("SELECT id, ptype, v0, v1, v2, v3, v4, v5 FROM casbin_rule WHERE seal IS NULL")


def install_row_seals(url: str, home: Path) -> RowSeals:
    """Register the deployment's row-seal key (from ``home``'s shared secret) for the
    catalog at ``url``."""
    seals = RowSeals(load_mask_secret(home))
    register(url, seals)
    return seals


_ROLES = 1  # row_seal_adoption's id for users and role lines (0017)
# the grant tables' ids (0018): table name, and its unsealed rows as typed columns
_GRANTS = {
    2: (ACCESS_REQUESTS, AccessRequest.__table__),
    3: (REIDENTIFICATIONS, ReidentificationRequest.__table__),
}


_COMPARISONS = 5  # row_seal_adoption's id for comparison models, versions, schedules (0020)
_COMPARISON_TABLES: tuple[Table, ...] = (
    ComparisonModel.__table__,
    ComparisonModelVersion.__table__,
    ComparisonSchedule.__table__,
)  # type: ignore[assignment]
_SOURCES = 6  # row_seal_adoption's id for sources (0021)
_SRC: Table = Source.__table__  # type: ignore[assignment]
_SOURCES_SQL = select(_SRC).where(_SRC.c.seal.is_(None))


def _pending(conn: Connection, adopted: frozenset[int]) -> frozenset[int]:
    """The table families not adopted yet (neither in the table nor in ``adopted``)."""
    done = set(conn.execute(text("SELECT id FROM row_seal_adoption")).scalars())
    families = {_ROLES, *_GRANTS, ENTRIES, FIELD_SETS, _COMPARISONS, _SOURCES}
    return frozenset(families - done - adopted)


def _unsealed_comparisons(conn: Connection) -> dict[str, list[Any]]:
    return {str(t.name): list(conn.execute(select(t).where(t.c.seal.is_(None))).all())
            for t in _COMPARISON_TABLES}  # fmt: skip


def _seal_comparisons(conn: Connection, seals: RowSeals, rows: dict[str, list[Any]]) -> None:
    for table in _COMPARISON_TABLES:
        for row in rows.get(table.name, []):
            key = and_(*(c == getattr(row, c.name) for c in table.primary_key.columns))
            conn.execute(update(table).where(key, table.c.seal.is_(None))
                         .values(seal=comparison_seal(seals, str(table.name), row)))  # fmt: skip
    for row in rows.get(SOURCES, []):
        conn.execute(update(_SRC).where(_SRC.c.id == row.id, _SRC.c.seal.is_(None))
                     .values(seal=source_seal(seals, row)))  # fmt: skip


def adopt_unsealed_rows(
    engine: Engine, seals: RowSeals, audit: Trail, *, adopted: frozenset[int] = frozenset()
) -> dict[str, int]:
    """Seal the rows of an upgraded deployment (see the module's docstring); returns the
    counts sealed by table (empty when there was nothing to adopt). ``adopted``: the
    families known adopted whatever the table says (``gateway.wiring.adoption_guard``)."""
    with engine.connect() as conn:
        pending = _pending(conn, adopted)
        if not pending:
            return {}
        users = conn.execute(_USERS_SQL).all() if _ROLES in pending else []
        rules = conn.execute(_RULES_SQL).all() if _ROLES in pending else []
        grants = {m: conn.execute(select(_GRANTS[m][1]).where(_GRANTS[m][1].c.seal.is_(None)))
                  .all() for m in sorted(pending & set(_GRANTS))}  # fmt: skip
        entries = read_entries(conn, pending)
        comparisons = _unsealed_comparisons(conn) if _COMPARISONS in pending else {}
        if _SOURCES in pending:
            comparisons[SOURCES] = list(conn.execute(_SOURCES_SQL).all())
    counts = {"users": len(users), "rules": len(rules)} if _ROLES in pending else {}
    counts.update({_GRANTS[m][0]: len(rows) for m, rows in grants.items()})
    counts.update(entries.counts(seals))
    counts.update({str(table): len(rows) for table, rows in comparisons.items()})
    audit.append(key_event(type_="catalog.rows_sealed", actor=SYSTEM,
                           resource="catalog:rows", details=counts))  # fmt: skip
    with engine.begin() as conn:
        if _pending(conn, adopted) != pending:  # another replica adopted meanwhile
            return {}
        for u in users:
            seal = seals.seal(USERS, user_row_values(u))
            conn.execute(_SEAL_USER, {"seal": seal, "s": u.subject})
        for r in rules:
            conn.execute(_SEAL_RULE, {"seal": seals.seal(RULES, rule_values(r)), "id": r.id})
        for marker, rows in grants.items():
            table = _GRANTS[marker][0]
            sql = text(f"UPDATE {table} SET seal = :seal WHERE id = :id AND seal IS NULL")
            for row in rows:
                conn.execute(sql, {"seal": grant_seal(seals, table, row), "id": row.id})
        seal_entries(conn, seals, entries)
        _seal_comparisons(conn, seals, comparisons)
        at = datetime.now(UTC).isoformat()
        for marker in sorted(pending):
            conn.execute(text("INSERT INTO row_seal_adoption (id, adopted_at) VALUES (:m, :at)"),
                         {"m": marker, "at": at})  # fmt: skip
    return counts
