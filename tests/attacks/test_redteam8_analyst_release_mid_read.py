"""Red team 8, as an analyst: raw ID numbers released after an officer suspended the
analyst, or revoked the approval, while the release was being read.

A re-identification release (``GET /api/v1/comparison-runs/{id}/hits?reidentified=true``)
reads every side of the run's model again, whole, with the key in clear (a full side
read: seconds on a large entry), then sends the approved hits with their ID numbers. The
caller's account and the approvals were read once, when the request came in; a query, a
comparison and a console download in flight are governed every second (red teams 3, 4,
6), but this, the one answer that carries identities in clear, was not. dora asks for the
release; while it reads, sam (security officer) suspends her — or revokes her grants,
which closes her approved re-identifications — and the identities still left: 200.

To hold the read open for as long as the officer needs, the test does what a busy source
does: civil's SQLite file is locked by a writer, so the side reading it waits (its busy
timeout is the statement timeout) until the lock is let go, after the officer acted.

Expected: the account and the approvals are read again once the sides are read, before
anything is sent: 403, no ID number in the answer, and no ``reidentification.released``
on record.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.engine import make_url

from audit.search import EventFilter, list_events
from catalog.models import Source
from tests.attacks.deployments import KINDS, open_deployment
from tests.attacks.live_gateway import wait_for
from tests.gateway.comparison_env import run_to_end
from tests.gateway.demo_app import DemoGateway

MODEL = "demo.payroll_on_dibao"
ASK = {"purpose": "supervision", "case_ref": "JW-CASE-8", "justification": "open a case"}


@pytest.fixture(params=KINDS)
def gw(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[DemoGateway]:
    with open_deployment(request.param, tmp_path, db_prefix="sluice_rt8_release") as gw:
        yield gw


def _events(gw: DemoGateway, type_: str) -> list[dict[str, Any]]:
    page = list_events(store=gw.services.audit.store, filters=EventFilter(), limit=500,
                       order="desc")  # fmt: skip
    return [e for e in page["items"] if e["type"] == type_]


def _approved_release(gw: DemoGateway) -> str:
    """A done run of dora's with hit 1 approved for release by both departments."""
    run = run_to_end(gw, "dora", MODEL)
    assert run["status"] == "done" and run["hits"] >= 1, run
    asked = gw.client.post("/api/v1/access-requests", json={"run": run["id"], "hits": [1], **ASK},
                           headers=gw.headers("dora"))  # fmt: skip
    assert asked.status_code == 201, asked.text
    for steward in ("carl", "fiona"):
        approved = gw.client.post(f"/api/v1/access-requests/{asked.json()['id']}/approve",
                                  headers=gw.headers(steward))  # fmt: skip
        assert approved.status_code == 200, approved.text
    return str(run["id"])


def _civil_file(gw: DemoGateway) -> str:
    with gw.services.sessions() as session:
        source = session.get(Source, "civil-db")
        assert source is not None
        return str(make_url(source.settings["url"]).database)


def _release_while(gw: DemoGateway, run_id: str, officer_acts: str) -> Any:
    """dora's release, held in civil's side read until sam has acted."""
    officer = gw.headers("sam")

    def act() -> None:
        acted = gw.client.post(f"/api/v1/users/dora/{officer_acts}", headers=officer,
                               json={"reason": "bulk pull alert"})  # fmt: skip
        assert acted.status_code == 200, acted.text

    return release_while(gw, run_id, act)


def release_while(gw: DemoGateway, run_id: str, act: Callable[[], None]) -> Any:
    """dora's release, held in civil's side read until ``act`` has run."""
    token = gw.headers("dora")  # minted before anything ``act`` does to dora
    gw.client.app.state.broker.sources.close()  # idle pooled readers share the file's lock
    writer = sqlite3.connect(_civil_file(gw), isolation_level=None, check_same_thread=False,
                             timeout=10)  # fmt: skip
    writer.execute("PRAGMA locking_mode=EXCLUSIVE")
    writer.execute("BEGIN EXCLUSIVE")  # civil's readers wait (busy timeout) from here
    started = len(_events(gw, "query.started"))
    answer: dict[str, Any] = {}

    def release() -> None:
        answer["resp"] = gw.client.get(
            f"/api/v1/comparison-runs/{run_id}/hits", params={"reidentified": "true"},
            headers=token,
        )  # fmt: skip

    def reading_civil() -> bool:
        new = _events(gw, "query.started")[: -started or None]
        return any(str(e.get("request_id")).startswith("ri-") and "civil" in str(e["resource"])
                   for e in new)  # fmt: skip

    reader = threading.Thread(target=release)
    reader.start()
    try:
        wait_for(reading_civil, "the release to start reading civil's side")
        act()
    finally:
        writer.execute("ROLLBACK")
        writer.close()  # the lock goes with the connection (exclusive locking mode)
        reader.join(60)
    return answer["resp"]


@pytest.mark.parametrize("officer_acts", ["suspend", "revoke-grants"])
def test_no_identity_leaves_after_the_officer_acted(gw: DemoGateway, officer_acts: str) -> None:
    run_id = _approved_release(gw)
    released_before = len(_events(gw, "reidentification.released"))
    resp = _release_while(gw, run_id, officer_acts)
    assert resp.status_code == 403, (resp.status_code, resp.text[:300])
    assert ".reidentified" not in resp.text
    assert len(_events(gw, "reidentification.released")) == released_before
