"""What the gateway's home remembers of row-seal adoption, so that the catalog database
alone cannot ask for another one.

Adoption (``gateway.wiring.row_seals``) trusts every unsealed row once, while
``row_seal_adoption`` has no row for a table family. That table is in the catalog
database: whoever can write it (the insider the seals are for) could insert ``g, me,
role:admin, *``, ``DELETE FROM row_seal_adoption`` and wait for the next start, which
sealed their line with the rest — an admin, the only trace a ``catalog.rows_sealed``
event like an upgrade's (red team 14). Two witnesses the insider does not control now
say a family was adopted already:

- the file ``keys/row-seals.adopted`` beside ``keys/mask.secret`` (the home, which the
  insider does not hold), listing the families this home has seen adopted;
- any sealed row of the family's tables (``users`` or ``casbin_rule``; the grant
  tables): a seal is written only by a gateway, so a deployment with one has adopted
  or was born sealed; this also covers a replica started on a fresh home.

A family either witness names but the database lost has its adoption row written back,
on the trail (``catalog.rows_sealed`` with ``adoption_restored``): its unsealed rows stay
unsealed and govern nothing. Left (THREAT_MODEL): an insider who strips every seal of a
family (or a family with no row yet) whose deletion a replica on a fresh home meets
first.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import structlog
from sqlalchemy import Connection, Engine, text

from audit.records import Actor, key_event
from catalog.private_files import KEY_BYTES, read_own, replace_private
from catalog.row_seals import RowSeals
from gateway.wiring.row_seals import Trail, adopt_unsealed_rows, install_row_seals

log = structlog.get_logger(__name__)

MARKER = Path("keys") / "row-seals.adopted"
SYSTEM = Actor("gateway", None, ("system",))
# row_seal_adoption's ids (0017: users and role lines; 0018: the two grant tables; 0019:
# entries and fields; 0020: comparison models, versions and schedules; 0021: sources)
# and a
# read that finds a sealed row of the family, which only a gateway writes
_SEALED_ROW_SQL = {
    1: text("SELECT 1 FROM users WHERE seal IS NOT NULL "
            "UNION ALL SELECT 1 FROM casbin_rule WHERE seal IS NOT NULL LIMIT 1"),
    2: text("SELECT 1 FROM access_requests WHERE seal IS NOT NULL LIMIT 1"),
    3: text("SELECT 1 FROM reidentification_requests WHERE seal IS NOT NULL LIMIT 1"),
    4: text("SELECT 1 FROM datasets WHERE seal IS NOT NULL "
            "UNION ALL SELECT 1 FROM fields WHERE seal IS NOT NULL LIMIT 1"),
    5: text("SELECT 1 FROM comparison_models WHERE seal IS NOT NULL "
            "UNION ALL SELECT 1 FROM comparison_model_versions WHERE seal IS NOT NULL "
            "UNION ALL SELECT 1 FROM comparison_schedules WHERE seal IS NOT NULL LIMIT 1"),
    6: text("SELECT 1 FROM sources WHERE seal IS NOT NULL LIMIT 1"),
}  # fmt: skip


def _adopted_in_db(conn: Connection) -> set[int]:
    return set(conn.execute(text("SELECT id FROM row_seal_adoption")).scalars())


def _remembered(home: Path) -> set[int]:
    try:  # never through a link nor from a FIFO the home's owner left there
        text = read_own(home / MARKER, limit=KEY_BYTES).decode("ascii")
    except FileNotFoundError:
        return set()
    return {int(part) for part in text.split() if part.isdigit()}


def witnessed(engine: Engine, home: Path) -> frozenset[int]:
    """The families the home remembers or a sealed row shows adopted (the module)."""
    with engine.connect() as conn:
        sealed = {family for family, sql in _SEALED_ROW_SQL.items()
                  if conn.execute(sql).first() is not None}  # fmt: skip
    return frozenset(_remembered(home) | sealed)


def restore_lost_adoptions(engine: Engine, home: Path, audit: Trail) -> list[int]:
    """Write back the adoption rows the database lost (see the module); returns their
    ids. Call before ``adopt_unsealed_rows``."""
    known = witnessed(engine, home)
    with engine.connect() as conn:
        lost = sorted(known - _adopted_in_db(conn))
    if not lost:
        return []
    log.warning("row_seal_adoption_deleted", families=lost)
    audit.append(key_event(type_="catalog.rows_sealed", actor=SYSTEM, resource="catalog:rows",
                           details={"adoption_restored": lost}))  # fmt: skip
    at = f"restored {datetime.now(UTC).isoformat(timespec='seconds')}"  # 40 chars at most
    with engine.begin() as conn:
        for family in sorted(set(lost) - _adopted_in_db(conn)):
            conn.execute(text("INSERT INTO row_seal_adoption (id, adopted_at) VALUES (:m, :at)"),
                         {"m": family, "at": at})  # fmt: skip
    return lost


def remember_adoptions(engine: Engine, home: Path) -> None:
    """Record in the home the families adopted now (after ``adopt_unsealed_rows``)."""
    with engine.connect() as conn:
        families = _adopted_in_db(conn) | _remembered(home)
    if families != _remembered(home):
        replace_private(home / MARKER, " ".join(map(str, sorted(families))).encode("ascii"))


def start_row_seals(url: str, engine: Engine, home: Path, audit: Trail) -> RowSeals:
    """What each start does with row seals, before the first read of a role: register
    the key, write back lost adoption rows, adopt what an upgrade left, remember it."""
    seals = install_row_seals(url, home)
    restore_lost_adoptions(engine, home, audit)
    # and never adopt a witnessed family, whatever the table says by then: an insider's
    # DELETE landing between the write-back and the adoption's read (red team 15)
    adopt_unsealed_rows(engine, seals, audit, adopted=witnessed(engine, home))
    remember_adoptions(engine, home)
    return seals
