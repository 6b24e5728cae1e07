"""A database insider writes a source's, a comparison model's or a schedule's row back as
it was before a change made through the gateway, seal and all (a replay).

THREAT_MODEL's "Left" of the sources' and the comparisons' seals (0021, 0020): a seal
says a gateway wrote a row's values, not that they are the current ones. So the insider
kept a copy of

- alice's schedule, let her delete it through the API, and wrote the copy back: with
  the gateway's clock ticking, it ran again as alice, under her case;
- dora's model from before she stopped sharing it, and wrote it back: alice ran it
  again (202), on the rule and sharing dora had withdrawn;
- civil's source from before carl re-pointed it through the steward API, and wrote it
  back: every civil entry read the old database again (200).

Each ran or served before the fix. Now every change made through the gateway binds the
row's new state on the trail first (``catalog.row_bound``, ``catalog.row_bindings``;
a schedule's deletion binds it ``removed``), and a sealed row governs only while it is
the newest state the trail names: the replayed schedule's trigger is refused
(``schedule_unsealed`` on record), the run answers 423 ``model_unsealed``, the query
423 ``source_unsealed`` with ``query.denied`` — each as for an unsealed row.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import orjson
from sqlalchemy.engine import make_url

from tests.attacks import test_insider_model_schedule_seals as schedule_seals
from tests.attacks.test_insider_model_schedule_seals import (
    CASE,
    MODEL,
    _refused_unsealed,
    _run,
    _scheduled,
    _triggered,
)
from tests.attacks.test_insider_row_replay import _rows
from tests.attacks.test_insider_source_seals import DIBAO, _refused_on_record
from tests.gateway.comparison_env import events
from tests.gateway.demo_app import DemoGateway

clocked = schedule_seals.clocked  # a deployment whose scheduler ticks every second


def _update_back(gw: DemoGateway, table: str, row: dict[str, Any], key: str = "id") -> None:
    """The saved row's values written over the current row (same key), seal included."""
    sets = ", ".join(f"{name} = :{name}" for name in row if name != key)
    gw.sql(f"UPDATE {table} SET {sets} WHERE {key} = :{key}", **row)


SCHEDULE_ROW = "SELECT * FROM comparison_schedules WHERE id = :i"
MODEL_ROW = "SELECT * FROM comparison_models WHERE id = :i"
SOURCE_ROW = "SELECT * FROM sources WHERE id = :i"
PAST = "2000-01-01 00:00:00.000000"


# ------------------------------------------------------------------ schedules


def test_a_schedule_deleted_through_the_gateway_and_written_back_runs_nothing(
    clocked: DemoGateway,
) -> None:
    gw = clocked
    schedule_id = _scheduled(gw, "alice", "daily")
    assert "run" in _triggered(gw, schedule_id)["details"]  # alice's schedule runs as her
    saved = _rows(gw, SCHEDULE_ROW, i=schedule_id)[0]
    gone = gw.client.delete(f"/api/v1/comparison-models/{MODEL}/schedules/{schedule_id}",
                            headers=gw.headers("alice"))  # fmt: skip
    assert gone.status_code == 200, gone.text
    _update_back(gw, "comparison_schedules", {**saved, "next_due_at": PAST})
    _refused_unsealed(gw, _triggered(gw, schedule_id, after=1))


def test_a_schedule_kept_through_the_gateway_keeps_running(clocked: DemoGateway) -> None:
    """The trigger's own writes (due time, last run) bind nothing and change no seal:
    a schedule of alice's runs period after period, and is listed sealed."""
    gw = clocked
    schedule_id = _scheduled(gw, "alice", "weekly")
    assert "run" in _triggered(gw, schedule_id)["details"]
    gw.sql("UPDATE comparison_schedules SET next_due_at = :t WHERE id = :i", t=PAST,
           i=schedule_id)  # fmt: skip
    assert "run" in _triggered(gw, schedule_id, after=1)["details"]
    listed = gw.client.get(f"/api/v1/comparison-models/{MODEL}/schedules",
                           headers=gw.headers("alice")).json()  # fmt: skip
    assert next(s for s in listed if s["id"] == schedule_id)["sealed"] is True
    gone = gw.client.delete(f"/api/v1/comparison-models/{MODEL}/schedules/{schedule_id}",
                            headers=gw.headers("alice"))  # fmt: skip
    assert gone.status_code == 200, gone.text


# ------------------------------------------------------------------ models


def _model_body(gw: DemoGateway, **shared: list[str]) -> dict[str, Any]:
    found = gw.client.get(f"/api/v1/comparison-models/{MODEL}", headers=gw.headers("dora"))
    assert found.status_code == 200, found.text
    model = found.json()
    return {"name": model["name"], "description": model["description"],
            "shared_with": shared or model["shared_with"],
            **{k: model["spec"][k] for k in ("sides", "joins", "conditions", "output")
               if k in model["spec"]}}  # fmt: skip


def _put(gw: DemoGateway, body: dict[str, Any]) -> dict[str, Any]:
    changed = gw.client.put(f"/api/v1/comparison-models/{MODEL}", json=body,
                            headers=gw.headers("dora"))  # fmt: skip
    assert changed.status_code == 200, changed.text
    assert changed.json()["sealed"] is True
    return dict(changed.json())


def _refused_model(gw: DemoGateway, resp: Any) -> None:
    """423 ``model_unsealed`` for alice, on record (``request.refused``), as for a model
    changed behind the gateway."""
    assert (resp.status_code, resp.json()["code"]) == (423, "model_unsealed"), resp.text
    found = events(gw, types=("request.refused",))
    assert found[-1]["details"]["code"] == "model_unsealed", found[-1]
    assert found[-1]["actor"]["sub"] == "alice", found[-1]


def test_a_model_from_before_its_sharing_was_withdrawn_runs_nothing(
    clocked: DemoGateway,
) -> None:
    gw = clocked
    assert _run(gw).status_code == 202
    shared = _model_body(gw)["shared_with"]
    saved = _rows(gw, MODEL_ROW, i=MODEL)[0]
    _put(gw, _model_body(gw, departments=[], levels=[]))  # dora withdraws it
    assert _run(gw).status_code == 404  # alice no longer sees it
    withdrawn = _rows(gw, MODEL_ROW, i=MODEL)[0]
    _update_back(gw, "comparison_models", saved)
    try:
        _refused_model(gw, _run(gw))
        listed = gw.client.get("/api/v1/comparison-models", headers=gw.headers("alice"))
        assert next(m for m in listed.json() if m["id"] == MODEL)["sealed"] is False
    finally:
        _update_back(gw, "comparison_models", withdrawn)
    # dora shares it again through the gateway: it runs for alice again
    _put(gw, _model_body(gw, **shared))
    assert _run(gw).status_code == 202


def test_a_schedule_of_a_replayed_model_runs_nothing(clocked: DemoGateway) -> None:
    """dora's own schedule, and the insider wrote back her model's row from before her
    latest version: the clock's trigger refuses it (``model_unsealed``)."""
    gw = clocked
    schedule_id = _scheduled(gw, "dora", "monthly")
    assert "run" in _triggered(gw, schedule_id)["details"]
    saved = _rows(gw, MODEL_ROW, i=MODEL)[0]
    _put(gw, _model_body(gw))  # a new version, same sharing
    current = _rows(gw, MODEL_ROW, i=MODEL)[0]
    _update_back(gw, "comparison_models", saved)
    try:
        gw.sql("UPDATE comparison_schedules SET next_due_at = :t WHERE id = :i", t=PAST,
               i=schedule_id)  # fmt: skip
        second = _triggered(gw, schedule_id, after=1)
        assert "run" not in second["details"], f"the replayed model ran: {second}"
        assert second["details"]["refused"]["code"] == "model_unsealed", second
    finally:
        _update_back(gw, "comparison_models", current)
        gw.client.delete(f"/api/v1/comparison-models/{MODEL}/schedules/{schedule_id}",
                         headers=gw.headers("dora"))  # fmt: skip
    assert gw.client.post(f"/api/v1/comparison-models/{MODEL}/runs", json=CASE,
                          headers=gw.headers("dora")).status_code == 202  # fmt: skip


# ------------------------------------------------------------------ sources


def _civil_copy(gw: DemoGateway, prefix: str) -> tuple[str, str]:
    """civil's source URL, and that of a copy of its database file beside it."""
    original = str(orjson.loads(_rows(gw, SOURCE_ROW, i="civil-db")[0]["settings"])["url"])
    path = Path(str(make_url(original).database))
    copy = path.with_name(f"{prefix}-{path.name}")
    shutil.copyfile(path, copy)
    return original, str(make_url(original).set(database=str(copy)))


def _repoint(gw: DemoGateway, url: str) -> None:
    resp = gw.client.patch("/api/v1/sources/civil-db", headers=gw.headers("carl"),
                           json={"settings": {"url": url}})  # fmt: skip
    assert resp.status_code == 200, resp.text
    assert resp.json()["sealed"] is True


def test_a_source_from_before_its_stewards_re_pointing_written_back_reads_nothing(
    clocked: DemoGateway,
) -> None:
    gw = clocked
    assert gw.query("alice", *DIBAO).status_code == 200
    original, copy = _civil_copy(gw, "moved")
    saved = _rows(gw, SOURCE_ROW, i="civil-db")[0]
    _repoint(gw, copy)  # carl moves it
    assert gw.query("alice", *DIBAO).status_code == 200
    moved = _rows(gw, SOURCE_ROW, i="civil-db")[0]
    _update_back(gw, "sources", saved)
    try:
        _refused_on_record(gw, gw.query("alice", *DIBAO))
        listed = gw.client.get("/api/v1/sources/civil-db", headers=gw.headers("carl"))
        assert listed.status_code == 200 and listed.json()["sealed"] is False, listed.text
        introspected = gw.client.post("/api/v1/sources/civil-db/introspect",
                                      headers=gw.headers("carl"))  # fmt: skip
        assert introspected.status_code == 423, introspected.text
    finally:
        _update_back(gw, "sources", moved)
    assert gw.query("alice", *DIBAO).status_code == 200
    _repoint(gw, original)  # carl moves it back: served, from where it was
    assert gw.query("alice", *DIBAO).status_code == 200


def test_a_source_from_before_its_deregistration_written_back_reads_nothing(
    clocked: DemoGateway,
) -> None:
    """carl registers a second civil source and withdraws it through the API (its
    tombstone is bound); the live row written back does not connect again."""
    gw = clocked
    body = {"id": "civil-extra", "department": "civil", "kind": "sqlite",
            "display_name": "extra", "settings": {"url": _civil_copy(gw, "extra")[1]}}  # fmt: skip
    made = gw.client.post("/api/v1/sources", json=body, headers=gw.headers("carl"))
    assert made.status_code == 201, made.text
    saved = _rows(gw, SOURCE_ROW, i="civil-extra")[0]
    gone = gw.client.delete("/api/v1/sources/civil-extra", headers=gw.headers("carl"))
    assert gone.status_code == 200, gone.text
    tombstone = _rows(gw, SOURCE_ROW, i="civil-extra")[0]
    _update_back(gw, "sources", saved)
    try:
        resp = gw.client.post("/api/v1/sources/civil-extra/introspect", headers=gw.headers("carl"))
        assert resp.status_code == 423, resp.text
        assert resp.json()["code"] == "source_unsealed", resp.text
    finally:
        _update_back(gw, "sources", tombstone)
    assert gw.query("alice", *DIBAO).status_code == 200


def test_a_change_bound_but_never_committed_leaves_the_model_running(
    clocked: DemoGateway,
) -> None:
    """An owner's change is bound before the route commits it; a transaction that ends
    without the commit binds the model back to its loaded state, still the row's."""
    from catalog.comparison_models import ComparisonModel
    from gateway.stewardship.row_trail import bind_until_commit

    gw = clocked
    with gw.services.sessions() as session:
        model = session.get(ComparisonModel, MODEL)
        assert model is not None
        model.shared_levels = [*model.shared_levels, "province"]
        bind_until_commit(gw.services.audit, session)
        session.rollback()
    assert _run(gw).status_code == 202
