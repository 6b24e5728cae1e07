"""Scheduled comparison runs (issue 15) through the HTTP API on the embedded default: a
schedule per model and county, triggered when due (``run-due``; the gateway's clock is
off in tests), each run narrowed to the county and compared with the schedule's
previous run — new hits flagged, disappeared ones listed — every change on record. On
the embedded SQLite default and with the catalog on PostgreSQL."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from typing import Any

import orjson
import pyarrow as pa
import pytest
from sqlalchemy import select
from sqlalchemy.engine import make_url

from catalog.models import Source
from gateway.enforcement.masking.apply import mask_array
from tests.gateway.comparison_env import ALICE_COUNTY, comparison_gateway, events, runner, wait
from tests.gateway.demo_app import DemoGateway

MODEL = "demo.payroll_on_dibao"
BODY = {"region": ALICE_COUNTY, "every": "monthly", "purpose": "supervision",
        "case_ref": "JW-SCHED-1"}  # fmt: skip
PATH = f"/api/v1/comparison-models/{MODEL}/schedules"


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def gw(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[DemoGateway]:
    with comparison_gateway(tmp_path_factory.mktemp(f"sched-{request.param}"),
                            request.param) as g:  # fmt: skip
        yield g


def _run_due(gw: DemoGateway, subject: str = "alice") -> list[str]:
    resp = gw.client.post("/api/v1/comparison-schedules/run-due", headers=gw.headers(subject))
    assert resp.status_code == 200, resp.text
    runs: list[str] = resp.json()["runs"]
    return runs


def _due_now(gw: DemoGateway, schedule_id: str) -> None:
    gw.sql("UPDATE comparison_schedules SET next_due_at = :t WHERE id = :i",
           t="2000-01-01 00:00:00.000000", i=schedule_id)  # fmt: skip


def _hits(gw: DemoGateway, run_id: str) -> list[dict[str, Any]]:
    resp = gw.client.get(f"/api/v1/comparison-runs/{run_id}/hits", headers=gw.headers("alice"))
    assert resp.status_code == 200, resp.text
    return list(orjson.loads(resp.content)["rows"])


def _civil_db(gw: DemoGateway) -> str:
    with gw.services.sessions() as session:
        source = session.scalars(select(Source).where(Source.department == "civil")).first()
        assert source is not None
        return str(make_url(source.settings["url"]).database)


def _row_of(gw: DemoGateway, token: str) -> tuple[Any, ...]:
    """The dibao row of the person behind ``token`` (tokens computed as the run does)."""
    key = runner(gw).broker.subjects.case_key(BODY["case_ref"])
    with sqlite3.connect(_civil_db(gw)) as db:
        rows = db.execute("SELECT * FROM dibao_recipients").fetchall()
        names = [d[0] for d in db.execute("SELECT * FROM dibao_recipients").description]
    at = names.index("id_number")
    tokens = mask_array(pa.array([str(r[at]) for r in rows]), "hash", hash_key=key).to_pylist()
    return next(r for r, t in zip(rows, tokens, strict=True) if t == token)


def _sql_civil(gw: DemoGateway, statement: str, params: tuple[Any, ...]) -> None:
    with sqlite3.connect(_civil_db(gw)) as db:
        db.execute(statement, params)


def test_a_schedule_runs_per_county_and_reports_new_and_disappeared_hits(gw: DemoGateway) -> None:
    assert gw.report is not None
    created = gw.client.post(PATH, json=BODY, headers=gw.headers("alice"))
    assert created.status_code == 201, created.text
    schedule = created.json()
    assert schedule["region"] == ALICE_COUNTY and schedule["every"] == "monthly"
    listed = gw.client.get(PATH, headers=gw.headers("alice")).json()
    assert [s["id"] for s in listed] == [schedule["id"]]

    first = _run_due(gw)
    assert len(first) == 1
    view = wait(gw, "alice", first[0])
    expected = gw.report.planted[MODEL].by_region[ALICE_COUNTY]
    assert view["status"] == "done" and view["hits"] == expected
    assert view["schedule"] == schedule["id"] and view["region"] == ALICE_COUNTY
    assert view["new_hits"] == expected and view["disappeared"] == 0
    assert _run_due(gw) == []  # next due in a month

    # one person leaves the allowance roll: their hit disappears from the next run
    gone = _hits(gw, first[0])[0]
    row = _row_of(gw, gone["key_token"])
    _sql_civil(gw, "DELETE FROM dibao_recipients WHERE id_number = ?", (row[_id_at(gw)],))
    _due_now(gw, schedule["id"])
    second = _run_due(gw)
    view = wait(gw, "alice", second[0])
    assert view["hits"] == expected - 1 and view["previous_run"] == first[0]
    assert view["new_hits"] == 0 and view["disappeared"] == 1
    changes = gw.client.get(f"/api/v1/comparison-runs/{second[0]}/disappeared",
                            headers=gw.headers("alice")).json()  # fmt: skip
    assert changes["disappeared"] == [{"hit_id": gone["hit_id"], "key_token": gone["key_token"]}]

    # and comes back: a new hit, flagged
    marks = ", ".join("?" for _ in row)
    _sql_civil(gw, f"INSERT INTO dibao_recipients VALUES ({marks})", tuple(row))
    _due_now(gw, schedule["id"])
    third = _run_due(gw)
    view = wait(gw, "alice", third[0])
    assert view["new_hits"] == 1 and view["disappeared"] == 0
    flagged = [h for h in _hits(gw, third[0]) if h["new"]]
    assert [h["key_token"] for h in flagged] == [gone["key_token"]]

    wanted = ("comparison_schedule.created", "comparison_schedule.triggered")
    kinds = [e["type"] for e in events(gw, types=wanted, want=4)]
    assert kinds.count("comparison_schedule.triggered") == 3

    deleted = gw.client.delete(f"{PATH}/{schedule['id']}", headers=gw.headers("alice"))
    assert deleted.status_code == 200, deleted.text
    _due_now(gw, schedule["id"])
    assert _run_due(gw) == []


def _id_at(gw: DemoGateway) -> int:
    with sqlite3.connect(_civil_db(gw)) as db:
        names = [d[0] for d in db.execute("SELECT * FROM dibao_recipients").description]
    return names.index("id_number")


def test_schedules_are_their_owners(gw: DemoGateway) -> None:
    outside = gw.client.post(PATH, json={**BODY, "region": "430102"}, headers=gw.headers("alice"))
    assert outside.status_code == 403, outside.text  # not her county: never widened
    bad = gw.client.post(PATH, json={**BODY, "region": "43"}, headers=gw.headers("alice"))
    assert bad.status_code == 400  # validation errors are 400 here
    made = gw.client.post(PATH, json=BODY, headers=gw.headers("alice")).json()
    assert gw.client.post(PATH, json=BODY, headers=gw.headers("sam")).status_code == 403
    assert made["id"] not in {
        s["id"] for s in gw.client.get(PATH, headers=gw.headers("dora")).json()
    }
    assert made["id"] in {s["id"] for s in gw.client.get(PATH, headers=gw.headers("sam")).json()}
    other = gw.client.delete(f"{PATH}/{made['id']}", headers=gw.headers("dora"))
    assert other.status_code == 404
    assert _run_due(gw, "dora") == []  # dora triggers her own schedules only
