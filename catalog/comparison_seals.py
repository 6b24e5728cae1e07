"""Seals on the rows that run comparisons: models, their versions and schedules.

Why: a schedule runs its model as its owner, and a model's version is the rule a run
reads and shows. Whoever can write the catalog database could otherwise INSERT a
schedule owned by dora (or hand alice's to her), and the gateway's clock queued the run
in dora's name, under a case the insider chose, and stored the hits in the catalog
database the insider reads; or rewrite a version (the fields it shows, the entries it
joins, its author, which decides what a schedule runs) or a model's owner and sharing,
and the next run by its analysts ran the insider's rule under their names (THREAT_MODEL,
item 4). Each such row now carries ``seal``, the deployment's row seal
(``catalog.row_seals``: HMAC under a key derived from ``keys/mask.secret``, which never
goes into the database); a model or version that does not verify runs nothing
(``ModelUnsealed``), a schedule that does not verify is never triggered
(``ScheduleUnsealed``), each refusal on record.

What a seal covers: what decides what runs, as whom and what it shows — not a
schedule's due time or last run, which the trigger's compare-and-set moves as a Core
write (``schedules._claim``) and which decide only *when* a sealed schedule runs; not a
model's timestamps. Timestamps that are covered (a version's and a schedule's
``created_at``: which version a schedule runs) are sealed as ``utc_text``, the rule as
canonical JSON, so the same row seals the same on SQLite and PostgreSQL.

Seals are written where the ORM writes the rows (``before_insert``/``before_update``);
an update seals only a row whose loaded values verified (as ``catalog.entry_seals``), so
an owner's new version or deletion through the gateway never seals what an insider
wrote.

What a seal alone does not stop, a row written back as it was before a change made
through the gateway with the seal it had then (a replay: a schedule's deletion undone,
a model from before its owner withdrew its sharing), the row's binding on the trail
does (``catalog.row_bindings``, ``gateway.stewardship.row_trail``): an owner's new
version binds the model's new seal and a deletion binds the schedule ``removed``, before
the commit, and a model or schedule runs only while its seal is the newest state the
trail names (``comparison_key``). Versions are never changed, so never bound. The run
request, the worker and the clock refresh the bindings at each check: these tables do
not move the catalog generation (0011), and none of them is the hot query path; the
listings' ``sealed`` reads no trail unless a row differs from what the process knows.
Not stopped: a deleted row.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

import orjson
from sqlalchemy import Connection, event
from sqlalchemy.orm import object_session

from catalog.errors import ModelUnsealed, ScheduleUnsealed
from catalog.row_bindings import checker, settle
from catalog.row_seals import FirstSeen, RowSeals, as_loaded, seals_for
from catalog.timestamps import utc_text

log = logging.getLogger(__name__)

MODELS = "comparison_models"
VERSIONS = "comparison_model_versions"
SCHEDULES = "comparison_schedules"


def _when(value: datetime | None) -> str | None:
    return None if value is None else utc_text(value)


def _names(value: Any) -> list[str]:
    if not isinstance(value, list | None):
        raise TypeError("not a list")
    return [str(v) for v in value or []]


def model_values(row: Any) -> tuple[Any, ...]:
    """What a model's seal covers: whose it is, its current version, whom it is shared
    with (who may see and run it)."""
    return (row.id, row.owner, row.department, row.current_version,
            _names(row.shared_departments), _names(row.shared_levels))  # fmt: skip


def version_values(row: Any) -> tuple[Any, ...]:
    """What a version's seal covers: all of it (a version is never edited)."""
    if not isinstance(row.spec, dict):
        raise TypeError("spec is not an object")
    rule = orjson.dumps(row.spec, option=orjson.OPT_SORT_KEYS).decode()
    return (row.model_id, row.version, row.name_zh, row.name_en, row.description_zh,
            row.description_en, rule, _names(row.entries), row.created_by,
            _when(row.created_at))  # fmt: skip


def schedule_values(row: Any) -> tuple[Any, ...]:
    """What a schedule's seal covers: what it runs, as whom, where, why, how often, since
    when (which version it runs) and whether it was deleted."""
    return (row.id, row.model_id, row.owner, row.region, row.every, row.purpose,
            row.case_ref, row.engine, _when(row.created_at),
            row.deleted_at is not None)  # fmt: skip


_VALUES = {MODELS: model_values, VERSIONS: version_values, SCHEDULES: schedule_values}
# column defaults the ORM fills in after ``before_insert``: set first, as sealed
_DEFAULTS: dict[str, dict[str, Any]] = {
    MODELS: {"current_version": 1, "shared_departments": [], "shared_levels": []},
    VERSIONS: {"description_zh": "", "description_en": ""},
    SCHEDULES: {},
}


def comparison_seal(seals: RowSeals, table: str, row: Any) -> str:
    return seals.seal(table, _VALUES[table](row))


def comparison_holds(seals: RowSeals, table: str, row: Any) -> bool:
    """Whether ``row`` (an ORM object or a Core row with the sealed columns and ``seal``)
    was written by a gateway of this deployment; a row of values of shapes no gateway
    writes holds no seal (never an error for its readers)."""
    try:
        values = _VALUES[table](row)
    except (AttributeError, TypeError, ValueError):
        return False
    return seals.holds(table, values, row.seal)


def seal_comparison_row(connection: Connection, table: str, target: Any, *, update: bool) -> None:
    """Seal a model, version or schedule the ORM is about to write. An update seals only
    a row whose loaded values verified (the module)."""
    seals = seals_for(connection)
    if update and not comparison_holds(seals, table, as_loaded(target)):
        return
    if not update:
        for name, value in _DEFAULTS[table].items():
            if getattr(target, name) is None:
                setattr(target, name, value)
        if getattr(target, "created_at", False) is None:
            target.created_at = datetime.now(UTC)
    target.seal = comparison_seal(seals, table, target)


def _seal_new(mapper: Any, connection: Connection, target: Any) -> None:
    seal_comparison_row(connection, mapper.local_table.name, target, update=False)


def _seal_changed(mapper: Any, connection: Connection, target: Any) -> None:
    seal_comparison_row(connection, mapper.local_table.name, target, update=True)


def seal_on_write(model: type[Any]) -> None:
    """Seal ``model``'s rows (one of this module's tables) wherever the ORM writes them."""
    event.listen(model, "before_insert", _seal_new)
    event.listen(model, "before_update", _seal_changed)


_REPORTED = FirstSeen()


def _report(table: str, key: object, seal: str | None) -> None:
    """Log a row that does not verify, once per process per (row, seal)."""
    if _REPORTED.first((table, str(key), seal)):
        log.warning("comparison_unsealed table=%s id=%s", table, key)


def comparison_key(table: str, row_id: object) -> str:
    """A model's or schedule's key on the trail (``catalog.row_bindings``)."""
    return f"{table}/{row_id}"


def row_sealed(table: str, row: Any, *, refresh: bool = False) -> bool:
    """Whether an ORM row loaded in a session verifies and, a model or a live schedule,
    is the newest state the trail names (``refresh``: the trail read first, as a check
    that decides does). Without ``refresh``, what the listings say as ``sealed``. A
    deleted schedule is bound ``removed`` and runs nothing: its view (the deletion's
    answer) says whether its seal verifies."""
    session = None if row is None else object_session(row)
    if session is None:
        return False
    bind = session.get_bind()
    seals = seals_for(bind)
    if not comparison_holds(seals, table, row):
        return False
    if table == VERSIONS or (table == SCHEDULES and row.deleted_at is not None):
        return True
    key, current = comparison_key(table, row.id), checker(bind, refresh=refresh)
    if current(key, row.seal):
        return True
    if not refresh:  # a listing's ``sealed``: no wait
        return False
    # verified, not the newest the trail names: a change of it may be in flight (its
    # owner's save, bound before its commit): read it again until they agree (``settle``)

    def read() -> bool:
        session.refresh(row)
        return comparison_holds(seals, table, row) and current(key, row.seal)

    return settle(read, lambda agreed: not agreed)


def require_model_sealed(model: Any, version: Any) -> None:
    """``ModelUnsealed`` unless a model's row and the version to run both verify, and
    the model is the newest state the trail names (the trail read first)."""
    for table, row in ((MODELS, model), (VERSIONS, version)):
        if not row_sealed(table, row, refresh=True):
            name = getattr(version, "model_id", None)
            _report(table, name, getattr(row, "seal", None))
            raise ModelUnsealed(f"comparison model {name!r} was changed outside the "
                                "gateway; it runs nothing until its sealed values are "
                                "restored")  # fmt: skip


def require_schedule_sealed(schedule: Any) -> None:
    """``ScheduleUnsealed`` unless a live schedule's row verifies and is the newest
    state the trail names (the trail read first)."""
    if schedule.deleted_at is not None or not row_sealed(SCHEDULES, schedule, refresh=True):
        _report(SCHEDULES, schedule.id, schedule.seal)
        raise ScheduleUnsealed(f"schedule {schedule.id} was written or changed outside the "
                               "gateway; it runs nothing")  # fmt: skip
