"""Row seals at start-up: the key registered for the catalog database, and rows from
before migration 0017 sealed once per deployment (``catalog.row_seals`` says why).

Adoption is the one moment an unsealed row is trusted, so it happens once: while the
one-row table ``row_seal_adoption`` (migration 0017) is empty. A new database gets its
row from the migration (nothing to adopt); an upgraded one at its first
``build_services`` after the upgrade, which puts ``catalog.rows_sealed`` (the counts) on
the trail, durably, then seals every row without a seal and writes the row in one
transaction, before any request is served. The event comes first: the embedded catalog
and trail share one SQLite writer, and an adoption interrupted between the two is done
again at the next start, on record again. A second ``catalog.rows_sealed`` therefore
means the adoption row was deleted behind the gateway (the only way back to adoption):
an officer's question.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Protocol

from sqlalchemy import Connection, Engine, select, text

from audit.records import Actor, key_event
from catalog.models import User
from catalog.row_seals import RULES, USERS, RowSeals, register, rule_values, user_values
from gateway.enforcement.masking import load_mask_secret


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


def _adopted(conn: Connection) -> bool:
    return conn.execute(text("SELECT 1 FROM row_seal_adoption WHERE id = 1")).first() is not None


def adopt_unsealed_rows(engine: Engine, seals: RowSeals, audit: Trail) -> dict[str, int]:
    """Seal the rows of an upgraded deployment (see the module's docstring); returns the
    counts sealed (empty when there was nothing to adopt)."""
    with engine.connect() as conn:
        if _adopted(conn):
            return {}
        users = conn.execute(_USERS_SQL).all()
        rules = conn.execute(_RULES_SQL).all()
    counts = {"users": len(users), "rules": len(rules)}
    audit.append(key_event(type_="catalog.rows_sealed", actor=SYSTEM,
                           resource="catalog:rows", details=counts))  # fmt: skip
    with engine.begin() as conn:
        if _adopted(conn):  # another replica adopted meanwhile
            return {}
        for u in users:
            values = user_values(u.subject, u.department, u.clearance, u.jurisdiction,
                                 u.status, u.id_number_hash)  # fmt: skip
            conn.execute(_SEAL_USER, {"seal": seals.seal(USERS, values), "s": u.subject})
        for r in rules:
            conn.execute(_SEAL_RULE, {"seal": seals.seal(RULES, rule_values(r)), "id": r.id})
        conn.execute(text("INSERT INTO row_seal_adoption (id, adopted_at) VALUES (1, :at)"),
                     {"at": datetime.now(UTC).isoformat()})  # fmt: skip
    return counts
