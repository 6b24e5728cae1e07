"""Comparison models run as jobs, through the HTTP API, on the embedded default (SQLite)
and on PostgreSQL: each shipped model finds exactly what the generator planted — every
county for dora, alice's county for alice — with no raw ID number in any format, the
same person's token across sides and runs of one case and another under another case;
models are versioned and every change, run and lead is on record."""

from __future__ import annotations

import hashlib
import io
import re
from collections.abc import Iterator
from typing import Any

import orjson
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from tests.gateway.comparison_env import (
    ALICE_COUNTY,
    CASE,
    DEMO_MODELS,
    comparison_gateway,
    events,
    hits,
    run_to_end,
)
from tests.gateway.demo_app import DemoGateway

# an ID number standing alone: 24-hex tokens can hold 18 digits in a row by chance
ID_NUMBER = re.compile(rb"(?<![0-9a-fA-F])\d{17}[\dX](?![0-9a-fA-F])")


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def gw(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[DemoGateway]:
    with comparison_gateway(tmp_path_factory.mktemp(f"cm-{request.param}"), request.param) as g:
        yield g


def _rows(resp: Any) -> list[dict[str, Any]]:
    assert resp.status_code == 200, resp.text
    return list(orjson.loads(resp.content)["rows"])


@pytest.fixture(scope="module")
def dora_runs(gw: DemoGateway) -> dict[str, dict[str, Any]]:
    return {model: run_to_end(gw, "dora", model) for model in DEMO_MODELS}


def test_models_are_listed_with_their_version_and_entries(gw: DemoGateway) -> None:
    resp = gw.client.get("/api/v1/comparison-models", headers=gw.headers("alice"))
    assert resp.status_code == 200, resp.text
    listed = {m["id"]: m for m in resp.json()}
    assert set(DEMO_MODELS) <= set(listed)
    three_way = listed["demo.ghost_on_payroll"]
    assert three_way["version"] == 1 and three_way["name"]["zh"]
    assert three_way["entries"] == ["finance.payroll", "civil.dibao_recipients",
                                    "civil.death_registrations"]  # fmt: skip


@pytest.mark.parametrize("model", DEMO_MODELS)
def test_every_county_finds_exactly_what_was_planted(
    gw: DemoGateway, dora_runs: dict[str, dict[str, Any]], model: str
) -> None:
    assert gw.report is not None
    view = dora_runs[model]
    assert view["status"] == "done", view
    assert view["hits"] == gw.report.planted[model].total > 0
    assert view["truncated"] is False and view["progress"] == 1.0
    assert view["model_version"] == 1 and view["engine"] == "embedded"
    assert view["leads"] == {"open": view["hits"], "confirmed": 0, "false_positive": 0,
                             "rectified": 0}  # fmt: skip
    assert len(_rows(hits(gw, "dora", view["id"]))) == view["hits"]


@pytest.mark.parametrize("model", DEMO_MODELS)
def test_alice_finds_her_county_only(gw: DemoGateway, model: str) -> None:
    assert gw.report is not None
    expected = gw.report.planted[model].by_region.get(ALICE_COUNTY, 0)
    assert expected > 0  # the sizes plant hits in her county: the test means something
    view = run_to_end(gw, "alice", model)
    assert view["status"] == "done", view
    assert view["hits"] == expected
    regions = {v for row in _rows(hits(gw, "alice", view["id"]))
               for k, v in row.items() if k.endswith("region_code")}  # fmt: skip
    assert regions == {ALICE_COUNTY}


@pytest.mark.parametrize("fmt", ["json", "ndjson", "csv", "csv_raw", "parquet", "arrow"])
def test_hit_lists_carry_no_raw_id_number_in_any_format(
    gw: DemoGateway, dora_runs: dict[str, dict[str, Any]], fmt: str
) -> None:
    for view in dora_runs.values():
        resp = hits(gw, "dora", view["id"], fmt)
        assert resp.status_code == 200, resp.text
        body = resp.content
        if fmt == "parquet":
            body = orjson.dumps(pq.read_table(io.BytesIO(body)).to_pylist(), default=str)
        elif fmt == "arrow":
            table = pa.ipc.open_stream(body).read_all()
            assert table.num_rows == view["hits"]
            body = orjson.dumps(table.to_pylist(), default=str)
        assert not ID_NUMBER.search(body), (fmt, view["model"])


def _tokens(gw: DemoGateway, subject: str, run_id: str, name: str) -> dict[str, str]:
    """key token per person's masked name (sufficient to line people up in a test)."""
    return {r["key_token"]: r[name] for r in _rows(hits(gw, subject, run_id))}


def test_a_person_has_one_token_per_case_and_another_under_another_case(
    gw: DemoGateway, dora_runs: dict[str, dict[str, Any]]
) -> None:
    """The three-way model's people (ghosts) are among the payroll × dibao hits: the
    same token in both runs of one case, on every side; under another case, new tokens."""
    ghosts = set(_tokens(gw, "dora", dora_runs["demo.ghost_on_payroll"]["id"], "p.name"))
    on_dibao = set(_tokens(gw, "dora", dora_runs["demo.payroll_on_dibao"]["id"], "p.name"))
    assert ghosts and ghosts <= on_dibao
    other = run_to_end(gw, "dora", "demo.ghost_on_payroll", case_ref="JW-RUN-OTHER")
    other_tokens = set(_tokens(gw, "dora", other["id"], "p.name"))
    assert len(other_tokens) == len(ghosts) and not other_tokens & ghosts
    again = run_to_end(gw, "dora", "demo.ghost_on_payroll")
    assert set(_tokens(gw, "dora", again["id"], "p.name")) == ghosts
    assert all(t.startswith("tk_") for t in ghosts | other_tokens)


def test_a_run_is_on_record_start_to_end_with_each_side(
    gw: DemoGateway, dora_runs: dict[str, dict[str, Any]]
) -> None:
    view = dora_runs["demo.ghost_on_payroll"]
    trail = events(gw, run_id=view["id"], want=8)
    types = [e["type"] for e in trail]
    assert types[0] == "comparison_run.requested"
    assert types.count("query.completed") == 3  # each side read, governed, on record
    started = next(e for e in trail if e["type"] == "comparison.started")
    done = next(e for e in trail if e["type"] == "comparison.completed")
    assert started["details"]["model_version"] == 1
    assert set(started["details"]["sides"]) == {"p", "d", "x"}
    assert done["rows"] == view["hits"] and done["result_sha256"]
    assert done["details"]["subject_tokens"]  # who was matched, as gateway-wide tokens
    side_ids = {s["request_id"] for s in view["sides"].values()}
    assert {i.rsplit(".", 1)[1] for i in side_ids} == {"p", "d", "x"}
    sides = [e for e in events(gw, types=("query.started",)) if e["request_id"] in side_ids]
    assert len(sides) == 3
    assert all(e["case_ref"] == CASE["case_ref"] for e in sides)
    assert all(e["details"]["masks"]["id_number"] == "hash" for e in sides)


ANTI: dict[str, Any] = {
    "id": "test.dead_not_on_payroll",
    "name": {"zh": "死亡仍在保且不在工资名册", "en": "Dead, on dibao, not on the payroll"},
    "sides": [{"alias": "d", "dataset": "civil.dibao_recipients"},
              {"alias": "x", "dataset": "civil.death_registrations"},
              {"alias": "p", "dataset": "finance.payroll"}],
    "joins": [{"left": "d", "left_key": "id_number", "right": "x", "right_key": "id_number"},
              {"left": "d", "left_key": "id_number", "right": "p", "right_key": "id_number",
               "kind": "anti"}],
    "conditions": [{"op": "=", "args": [{"field": "d.status"},
                                        {"value": "active", "type": "string"}]}],
    "output": ["d.monthly_amount", "x.death_date", "d.region_code"],
}  # fmt: skip


def test_authoring_an_anti_join_model_and_versions(gw: DemoGateway) -> None:
    """On the roll (and dead) but not in the payroll register: every dead active
    recipient except the ghosts. A PUT makes version 2; a run names its version."""
    assert gw.report is not None
    created = gw.client.post("/api/v1/comparison-models", json=ANTI, headers=gw.headers("dora"))
    assert created.status_code == 201, created.text
    assert created.json()["version"] == 1 and created.json()["owner"] == "dora"
    expected = (gw.report.anomalies.deceased_still_active
                - gw.report.planted["demo.ghost_on_payroll"].total)  # fmt: skip
    first = run_to_end(gw, "dora", ANTI["id"])
    assert (first["status"], first["hits"], first["model_version"]) == ("done", expected, 1)
    changed = {**ANTI, "conditions": [], "shared_with": {"levels": ["county"]}}
    put = gw.client.put(f"/api/v1/comparison-models/{ANTI['id']}", json=changed,
                        headers=gw.headers("dora"))  # fmt: skip
    assert put.status_code == 200, put.text
    assert put.json()["version"] == 2 and put.json()["versions"] == [1, 2]
    second = run_to_end(gw, "dora", ANTI["id"])
    assert second["model_version"] == 2
    assert second["hits"] == (gw.report.anomalies.deceased_still_active
                              + gw.report.anomalies.deceased_terminated
                              - gw.report.planted["demo.ghost_on_payroll"].total
                              - 1)  # fmt: skip  # the dead decoy is on the payroll
    old = run_to_end(gw, "dora", ANTI["id"], version=1)
    assert (old["model_version"], old["hits"]) == (1, expected)
    v1 = gw.client.get(f"/api/v1/comparison-models/{ANTI['id']}", params={"version": 1},
                       headers=gw.headers("alice"))  # fmt: skip
    assert v1.status_code == 200 and v1.json()["spec"]["conditions"]  # shared with counties now
    trail = [e for e in events(gw, types=("comparison_model.created", "comparison_model.updated"))
             if e["resource"] == f"comparison_model:{ANTI['id']}"]  # fmt: skip
    assert [(e["type"], e["details"]["version"]) for e in trail] == [
        ("comparison_model.created", 1),
        ("comparison_model.updated", 2),
    ]


def test_leads_are_marked_counted_and_on_record(
    gw: DemoGateway, dora_runs: dict[str, dict[str, Any]]
) -> None:
    view = dora_runs["demo.dibao_after_death"]
    url = f"/api/v1/comparison-runs/{view['id']}/hits"
    h = gw.headers("dora")
    ok = gw.client.patch(f"{url}/1", headers=h,
                         json={"state": "confirmed", "note": "核实:已死亡仍发放"})  # fmt: skip
    assert ok.status_code == 200, ok.text
    assert gw.client.patch(f"{url}/2", json={"state": "false_positive", "note": "同名"},
                           headers=h).status_code == 200  # fmt: skip
    fixed = gw.client.patch(f"{url}/3", headers=h, json={
        "state": "rectified", "note": "已追回", "rectified_on": "2025-01-15"})  # fmt: skip
    assert fixed.status_code == 200, fixed.text
    again = gw.client.patch(f"{url}/1", headers=h, json={
        "state": "rectified", "note": "已整改", "rectified_on": "2025-02-01"})  # fmt: skip
    assert again.json()["leads"] == {"open": view["hits"] - 3, "confirmed": 0,
                                     "false_positive": 1, "rectified": 2}  # fmt: skip
    run = gw.client.get(f"/api/v1/comparison-runs/{view['id']}", headers=h).json()
    assert run["leads"]["rectified"] == 2
    listed = {r["hit_id"]: r for r in _rows(hits(gw, "dora", view["id"]))}
    assert listed[1]["state"] == "rectified" and listed[1]["rectified_on"] == "2025-02-01"
    assert listed[2]["note"] == "同名" and listed[4]["state"] == "open"
    trail = events(gw, run_id=view["id"], types=("comparison_run.lead_updated",), want=4)
    changes = [(e["details"]["hit_id"], e["details"]["previous_state"], e["details"]["state"])
               for e in trail]  # fmt: skip
    assert changes == [
        (1, "open", "confirmed"),
        (2, "open", "false_positive"),
        (3, "open", "rectified"),
        (1, "confirmed", "rectified"),
    ]


def test_reading_the_hits_is_on_record(
    gw: DemoGateway, dora_runs: dict[str, dict[str, Any]]
) -> None:
    view = dora_runs["demo.duplicate_subsidy"]
    body = hits(gw, "dora", view["id"], "csv").content
    read = events(gw, run_id=view["id"], types=("comparison_run.hits_read",), want=1)[-1]
    assert read["details"]["format"] == "csv" and read["rows"] == view["hits"]
    assert read["result_sha256"] == hashlib.sha256(body).hexdigest()
