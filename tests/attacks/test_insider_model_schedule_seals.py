"""A database insider makes the gateway run a comparison in someone else's name, or run a
rule they rewrote, behind the gateway.

THREAT_MODEL's open item (4) of "Catalog entries are sealed, sources are not":
comparison models, their versions and schedules were rows nobody sealed. Whoever can
write the catalog database (not the keys in ``SLUICE_HOME/keys``) could

- INSERT a schedule owned by dora (every region, L3, the demo models' author): with the
  scheduler on, the gateway's clock queued the run as dora — ``comparison_run.requested``
  with dora as the actor, her purpose and a case the insider chose — read both
  departments' rows under her clearance and stored the hit list in the catalog
  database, where the insider reads it;
- UPDATE alice's schedule to be dora's: the same, in an existing schedule;
- UPDATE a model's version (the fields it shows, the entries it joins) or the model's
  sharing: the next run of it by its analysts ran the insider's rule under their name.

Models, versions and schedules now carry a row seal (``catalog.comparison_seals``,
migration 0020); a model or schedule that does not verify runs nothing: a run request
answers 423 ``model_unsealed`` (``request.refused`` on the trail), the clock's trigger
of a schedule is refused on record (``comparison_schedule.triggered`` with
``schedule_unsealed``), and the listings say ``sealed: false``. Writing the sealed
values back makes the row verify again.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Table, insert, select, update

from catalog.comparison_models import ComparisonModel, ComparisonModelVersion
from catalog.comparison_schedules import ComparisonSchedule
from tests.attacks.deployments import KINDS, open_deployment
from tests.gateway.comparison_env import ALICE_COUNTY, events
from tests.gateway.demo_app import DemoGateway

MODEL = "demo.payroll_on_dibao"
CASE = {"purpose": "supervision", "case_ref": "JW-INSIDER-4"}
_S: Table = ComparisonSchedule.__table__  # type: ignore[assignment]
_M: Table = ComparisonModel.__table__  # type: ignore[assignment]
_V: Table = ComparisonModelVersion.__table__  # type: ignore[assignment]
PAST = datetime(2000, 1, 1, tzinfo=UTC)


@pytest.fixture(scope="module", params=KINDS)
def clocked(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
            ) -> Iterator[DemoGateway]:  # fmt: skip
    """A demo gateway whose scheduler ticks ten times a second (production: a minute):
    each test waits on the clock's next trigger, not on a fixed sleep."""
    home: Path = tmp_path_factory.mktemp(f"clocked-{request.param}")
    with open_deployment(request.param, home, db_prefix="sluice_sched",
                         comparison_scheduler=True,
                         comparison_scheduler_interval_s=0.1) as gw:  # fmt: skip
        yield gw


def _write(gw: DemoGateway, statement: Any) -> None:
    """A Core write behind the gateway: no ORM hook sees it."""
    with gw.services.engine.begin() as conn:
        conn.execute(statement)


def _triggered(gw: DemoGateway, schedule_id: str, after: int = 0) -> dict[str, Any]:
    """The clock's next trigger of ``schedule_id`` (beyond the ``after`` first ones)."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        found = [e for e in events(gw, types=("comparison_schedule.triggered",))
                 if e.get("resource") == f"comparison_schedule:{schedule_id}"]  # fmt: skip
        if len(found) > after:
            return found[after]
        time.sleep(0.1)
    raise AssertionError(f"schedule {schedule_id} was never triggered")


def _run_as(gw: DemoGateway, run_id: str) -> list[dict[str, Any]]:
    return [e for e in events(gw, types=("comparison_run.requested",))
            if e.get("resource") == f"comparison_run:{run_id}"]  # fmt: skip


def _moved_on(gw: DemoGateway, schedule_id: str) -> None:
    """Wait for the trigger's own write: the clock records the trigger, then moves the
    schedule's due time on (``schedules._claim``, a compare-and-set on the due time read).
    A write behind the gateway in between, of the same past due time, was moved on with
    it, and the schedule came due next only a day later (a loaded run, stop 35)."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        with gw.services.engine.connect() as conn:
            due = conn.execute(select(_S.c.next_due_at).where(_S.c.id == schedule_id)).scalar()
        if due is not None and due.replace(tzinfo=UTC) > PAST:
            return
        time.sleep(0.1)
    raise AssertionError(f"schedule {schedule_id} was never moved on")


def _refused_unsealed(gw: DemoGateway, trigger: dict[str, Any]) -> None:
    details = trigger["details"]
    assert "run" not in details, f"the insider's schedule ran: {details}"
    assert details["refused"]["code"] == "schedule_unsealed", details


def _listed(gw: DemoGateway, schedule_id: str) -> dict[str, Any]:
    resp = gw.client.get(f"/api/v1/comparison-models/{MODEL}/schedules",
                         headers=gw.headers("sam"))  # fmt: skip
    assert resp.status_code == 200, resp.text
    return next(s for s in resp.json() if s["id"] == schedule_id)


def test_a_schedule_inserted_for_dora_runs_nothing_in_her_name(clocked: DemoGateway) -> None:
    gw = clocked
    schedule_id = "cs_insider0000001"
    _write(gw, insert(_S).values(
        id=schedule_id, model_id=MODEL, owner="dora", region=ALICE_COUNTY, every="daily",
        engine=None, next_due_at=PAST, last_run_id=None, created_at=datetime.now(UTC),
        deleted_at=None, **CASE,
    ))  # fmt: skip
    trigger = _triggered(gw, schedule_id)
    _refused_unsealed(gw, trigger)
    assert _listed(gw, schedule_id)["sealed"] is False
    with gw.services.engine.connect() as conn:
        last = conn.execute(select(_S.c.last_run_id).where(_S.c.id == schedule_id)).scalar()
    assert last is None


def _scheduled(gw: DemoGateway, owner: str, every: str) -> str:
    """A schedule made through the API by ``owner``, sealed; its first run is due now."""
    made = gw.client.post(f"/api/v1/comparison-models/{MODEL}/schedules",
                          json={"region": ALICE_COUNTY, "every": every, **CASE},
                          headers=gw.headers(owner))  # fmt: skip
    assert made.status_code == 201, made.text
    assert made.json()["sealed"] is True
    return str(made.json()["id"])


def test_a_schedule_handed_to_dora_runs_nothing_in_her_name(clocked: DemoGateway) -> None:
    gw = clocked
    schedule_id = _scheduled(gw, "alice", "daily")
    first = _triggered(gw, schedule_id)
    assert "run" in first["details"], first  # alice's own schedule runs as her
    _moved_on(gw, schedule_id)
    _write(gw, update(_S).where(_S.c.id == schedule_id)
           .values(owner="dora", next_due_at=PAST))  # fmt: skip
    _refused_unsealed(gw, _triggered(gw, schedule_id, after=1))
    _moved_on(gw, schedule_id)
    _write(gw, update(_S).where(_S.c.id == schedule_id)
           .values(owner="alice", next_due_at=PAST))  # fmt: skip
    again = _triggered(gw, schedule_id, after=2)  # the sealed values written back: it runs
    assert "run" in again["details"], again
    assert _run_as(gw, again["details"]["run"])[0]["actor"]["sub"] == "alice"


@contextmanager
def _changed(gw: DemoGateway, table: Table, where: Any, **values: Any) -> Iterator[None]:
    """``values`` written into a row behind the gateway, then its own written back."""
    names = list(values)
    with gw.services.engine.connect() as conn:
        before = conn.execute(select(*(table.c[n] for n in names)).where(where)).one()
    _write(gw, update(table).where(where).values(**values))
    try:
        yield
    finally:
        _write(gw, update(table).where(where).values(dict(zip(names, before, strict=True))))


def _version_spec(gw: DemoGateway) -> dict[str, Any]:
    with gw.services.engine.connect() as conn:
        spec: dict[str, Any] = conn.execute(select(_V.c.spec).where(
            _V.c.model_id == MODEL, _V.c.version == 1)).scalar_one()  # fmt: skip
    return spec


def _widened(gw: DemoGateway) -> dict[str, Any]:
    spec = _version_spec(gw)
    return {**spec, "output": [*spec["output"], "d.phone", "d.address"]}


# what the insider rewrote: the fields the rule shows, the entries it names, its author
# (a version of the author's own is what a schedule runs), the model's owner
CHANGES = {
    "version_output": (_V, lambda gw: {"spec": _widened(gw)}),
    "version_entries": (_V, lambda gw: {"entries": ["finance.payroll"]}),
    "version_author": (_V, lambda gw: {"created_by": "alice"}),
    "model_owner": (_M, lambda gw: {"owner": "alice"}),
}


def _where(table: Table) -> Any:
    if table is _V:
        return (_V.c.model_id == MODEL) & (_V.c.version == 1)
    return _M.c.id == MODEL


def _run(gw: DemoGateway) -> Any:
    return gw.client.post(f"/api/v1/comparison-models/{MODEL}/runs", json=CASE,
                          headers=gw.headers("alice"))  # fmt: skip


def _listed_model(gw: DemoGateway) -> dict[str, Any]:
    resp = gw.client.get("/api/v1/comparison-models", headers=gw.headers("alice"))
    assert resp.status_code == 200, resp.text
    return next(m for m in resp.json() if m["id"] == MODEL)


@pytest.mark.parametrize("change", list(CHANGES))
def test_a_model_changed_behind_the_gateway_runs_nothing(clocked: DemoGateway, change: str) -> None:
    gw = clocked
    table, values = CHANGES[change]
    with _changed(gw, table, _where(table), **values(gw)):
        resp = _run(gw)
        assert resp.status_code == 423, resp.text
        assert resp.json()["code"] == "model_unsealed", resp.text
        refused = [e for e in events(gw, types=("request.refused",))
                   if e.get("details", {}).get("code") == "model_unsealed"]  # fmt: skip
        assert refused and refused[-1]["actor"]["sub"] == "alice", refused
        assert _listed_model(gw)["sealed"] is False
    assert _listed_model(gw)["sealed"] is True
    assert _run(gw).status_code == 202


def test_a_schedule_of_a_rewritten_model_runs_nothing(clocked: DemoGateway) -> None:
    """The clock's trigger of a sealed schedule checks its model too: dora's own
    schedule, and the insider rewrote the version it runs."""
    gw = clocked
    schedule_id = _scheduled(gw, "dora", "weekly")
    assert "run" in _triggered(gw, schedule_id)["details"]
    _moved_on(gw, schedule_id)
    with _changed(gw, _V, _where(_V), spec=_widened(gw)):
        _write(gw, update(_S).where(_S.c.id == schedule_id).values(next_due_at=PAST))
        second = _triggered(gw, schedule_id, after=1)
    assert "run" not in second["details"], f"the rewritten rule ran as dora: {second}"
    assert second["details"]["refused"]["code"] == "model_unsealed", second


def test_a_schedules_later_moves_keep_its_seal(clocked: DemoGateway) -> None:
    """The trigger's own writes (due time, last run) are not sealed values: a schedule
    that ran stays sealed, and deleting it through the gateway seals the deletion."""
    gw = clocked
    schedule_id = _scheduled(gw, "alice", "monthly")
    assert "run" in _triggered(gw, schedule_id)["details"]
    listed = gw.client.get(f"/api/v1/comparison-models/{MODEL}/schedules",
                           headers=gw.headers("alice")).json()  # fmt: skip
    assert next(s for s in listed if s["id"] == schedule_id)["sealed"] is True
    gone = gw.client.delete(f"/api/v1/comparison-models/{MODEL}/schedules/{schedule_id}",
                            headers=gw.headers("alice"))  # fmt: skip
    assert gone.status_code == 200 and gone.json()["sealed"] is True, gone.text
    # the deletion lifted behind the gateway: the schedule no longer verifies
    _write(gw, update(_S).where(_S.c.id == schedule_id)
           .values(deleted_at=None, next_due_at=PAST + timedelta(days=1)))  # fmt: skip
    _refused_unsealed(gw, _triggered(gw, schedule_id, after=1))


def test_models_and_schedules_from_before_seals_are_adopted_once_on_record(
    clocked: DemoGateway,
) -> None:
    """An upgraded deployment (0020): its models, versions and schedules have no seal
    and ``row_seal_adoption`` has no row for them. The next start seals them and names
    the tables on the trail; a row an insider writes after that is not adopted."""
    from gateway.wiring.row_seals import adopt_unsealed_rows, install_row_seals

    gw = clocked
    for table in (_M, _V, _S):
        _write(gw, update(table).values(seal=None))
    gw.sql("DELETE FROM row_seal_adoption WHERE id = 5")
    assert _run(gw).status_code == 423
    seals = install_row_seals(gw.settings.resolved_database_url, gw.settings.home)
    counts = adopt_unsealed_rows(gw.services.engine, seals, gw.services.audit)
    assert set(counts) == {_M.name, _V.name, _S.name} and counts[_V.name] >= 4, counts
    recorded = events(gw, types=("catalog.rows_sealed",))
    assert recorded[-1]["details"] == counts
    assert _run(gw).status_code == 202
    with _changed(gw, _M, _where(_M), owner="alice", seal=None):
        assert adopt_unsealed_rows(gw.services.engine, seals, gw.services.audit) == {}
        assert _run(gw).status_code == 423
    assert _run(gw).status_code == 202
