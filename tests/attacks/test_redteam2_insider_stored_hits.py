"""Red team 2, as a database insider: a comparison run's stored hit list rewritten.

A done run keeps its hits in ``comparison_run_results`` (Arrow IPC and its SHA-256) for
days; the analyst works through them, an officer reviews them. An insider who can write
the catalog could drop one hit (hide the person the run found) or add one, update the
SHA-256 column to match, and every later read served the doctored list as the run's —
with a fresh ``comparison.hits_read`` digest of the forged bytes on record. The run's
completion on the trail already names the SHA-256 of what was stored; a read now checks
the stored bytes against it and refuses (on record) a list the trail does not vouch for.
"""

from __future__ import annotations

import hashlib
from typing import Any

import pyarrow as pa
import pytest
from sqlalchemy import text

from gateway.enforcement.comparison.run_store import ipc_bytes, read_ipc
from tests.gateway.comparison_env import events, hits, run_to_end
from tests.gateway.demo_app import DemoGateway

MODEL = "demo.payroll_on_dibao"


@pytest.fixture(scope="module")
def done_run(deployment: DemoGateway) -> dict[str, Any]:
    view = run_to_end(deployment, "dora", MODEL)
    assert view["status"] == "done" and view["hits"] >= 2, view
    return view


def _stored(gw: DemoGateway, run_id: str) -> bytes:
    with gw.services.engine.connect() as conn:
        data = conn.execute(text("SELECT data FROM comparison_run_results WHERE run_id = :r"),
                            {"r": run_id}).scalar_one()  # fmt: skip
    return bytes(data)


def _rewrite(gw: DemoGateway, run_id: str, table: pa.Table) -> None:
    data = ipc_bytes(table)
    gw.sql("UPDATE comparison_run_results SET data = :d, sha256 = :s WHERE run_id = :r",
           d=data, s=hashlib.sha256(data).hexdigest(), r=run_id)  # fmt: skip


def test_a_hit_dropped_behind_the_gateway_is_not_served(
    deployment: DemoGateway, done_run: dict[str, Any]
) -> None:
    gw, run_id = deployment, done_run["id"]
    assert hits(gw, "dora", run_id).status_code == 200
    original = _stored(gw, run_id)
    try:
        _rewrite(gw, run_id, read_ipc(original).slice(1))  # the first person found, gone
        for reader in ("dora", "sam"):
            answer = hits(gw, reader, run_id)
            assert answer.status_code != 200, f"{reader} was served a doctored hit list"
            assert answer.status_code == 409 and answer.json()["code"] == "hits_tampered"
        refused = events(gw, run_id=run_id, types=("request.refused",))
        assert not refused or all(e["details"]["status"] == 409 for e in refused)
    finally:
        gw.sql("UPDATE comparison_run_results SET data = :d, sha256 = :s WHERE run_id = :r",
               d=original, s=hashlib.sha256(original).hexdigest(), r=run_id)  # fmt: skip
    assert hits(gw, "dora", run_id).status_code == 200  # the genuine list reads again


def test_a_run_handed_to_someone_else_behind_the_gateway_is_not_served(
    deployment: DemoGateway, done_run: dict[str, Any]
) -> None:
    """``UPDATE comparison_runs SET owner = 'alice'``: alice would read dora's hits
    (found under dora's jurisdiction and case) as her own run."""
    gw, run_id = deployment, done_run["id"]
    try:
        gw.sql("UPDATE comparison_runs SET owner = 'alice' WHERE id = :r", r=run_id)
        answer = hits(gw, "alice", run_id)
        assert answer.status_code != 200, "alice was served dora's hits"
        assert answer.status_code == 409 and answer.json()["code"] == "hits_tampered"
    finally:
        gw.sql("UPDATE comparison_runs SET owner = 'dora' WHERE id = :r", r=run_id)
    assert hits(gw, "dora", run_id).status_code == 200
