"""Red team 34, as a database insider holding only the gateway's runtime role (SELECT and
INSERT on the audit tables, as docs/deploy.md grants it) — or anyone who can write the
embedded store.

Rule (THREAT_MODEL, known gaps): the unsigned tail of the trail is bounded by time — a
checkpoint is signed at least every ``SLUICE_AUDIT_CHECKPOINT_SECONDS`` while events
arrive and witnessed outside the database, so an insider who can also erase rows
erases unseen only the events of about that last second.

Attack: the writer's timed checkpoint asked ``SELECT max(seq) FROM audit_checkpoints``
whether the head was signed already, and believed the table. One INSERT of a
checkpoint row far above the head (a genuine row's hash, key id and signature copied:
it needs no key) and the idle tail is never signed nor witnessed again: the events of
alice's last queries stay unsigned until some later event (the night), the status says
all is well, nothing seals. A junk checkpoint row at the head's own seq does the same
for that head.

Expected: a row above the head decides nothing for the writer (the head is signed and
witnessed within a few seconds, as without it) and is evidence for the monitor (a
checkpoint of an event that does not exist: the gateway seals within a few ticks); a
checkpoint at the head that no gateway of the deployment signed is evidence too. On the
embedded default and on PostgreSQL. The writer's test failed before its fix (2 of 2,
both deployments: head 8, witnessed 2), the monitor's before its own (not sealed, the
status ok); the junk row at the head is a guard, it held (the monitor's sweep verifies
the checkpoints below the head and sealed on it).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError

from tests.attacks.deployments import KINDS, open_deployment
from tests.gateway.demo_app import DemoGateway

CHECKPOINT_S = 1.0
BODY = {"purpose": "supervision", "case_ref": "JW-2026-034", "limit": 2}


@pytest.fixture(params=KINDS)
def gw(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
       ) -> Iterator[DemoGateway]:  # fmt: skip
    home = tmp_path_factory.mktemp(f"red34-cp-{request.param}")
    with open_deployment(request.param, home, db_prefix="sluice_red34_cp",
                         audit_checkpoint_seconds=CHECKPOINT_S) as gateway:  # fmt: skip
        yield gateway


@pytest.fixture(params=KINDS)
def unwatched(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
              ) -> Iterator[DemoGateway]:  # fmt: skip
    """A gateway whose monitor does not tick during the test (a minute apart): what the
    writer does with the row on its own, before the monitor's walk meets it."""
    home = tmp_path_factory.mktemp(f"red34-cp-quiet-{request.param}")
    with open_deployment(request.param, home, db_prefix="sluice_red34_cp",
                         audit_checkpoint_seconds=CHECKPOINT_S,
                         audit_monitor_seconds=60) as gateway:  # fmt: skip
        yield gateway


def _status(gw: DemoGateway) -> dict[str, Any]:
    resp = gw.client.get("/api/v1/audit/status", headers=gw.headers("sam"))
    assert resp.status_code == 200, resp.text
    return dict(resp.json())


def _alice_queries(gw: DemoGateway, times: int = 3) -> None:
    for _ in range(times):
        resp = gw.query("alice", "civil.dibao_recipients", BODY)
        assert resp.status_code == 200, resp.text


def _witnessed_head(gw: DemoGateway, within_s: float) -> dict[str, Any]:
    """The status once the head is witnessed, or the last status seen."""
    deadline = time.monotonic() + within_s
    while True:
        status = _status(gw)
        if status["sealed"] or (status["witnessed"] or {}).get("seq") == status["head"]["seq"]:
            return status
        if time.monotonic() > deadline:
            return status
        time.sleep(0.1)


def _sealed(gw: DemoGateway, within_s: float) -> dict[str, Any]:
    """The status once the gateway is sealed, or the last status seen."""
    deadline = time.monotonic() + within_s
    while not (status := _status(gw))["sealed"] and time.monotonic() < deadline:
        time.sleep(0.1)
    return status


def _newest_checkpoint(gw: DemoGateway) -> dict[str, Any]:
    with gw.services.engine.connect() as conn:
        row = conn.execute(text("SELECT seq, hash, ts, kid, signature FROM audit_checkpoints "
                                "ORDER BY seq DESC LIMIT 1")).mappings().one()  # fmt: skip
    return dict(row)


def test_a_checkpoint_row_above_the_head_does_not_stop_signing(unwatched: DemoGateway) -> None:
    gw = unwatched
    _alice_queries(gw, 1)
    assert _witnessed_head(gw, 10 * CHECKPOINT_S)["witnessed"] is not None
    genuine = _newest_checkpoint(gw)
    gw.sql("INSERT INTO audit_checkpoints (seq, hash, ts, kid, signature) "
           "VALUES (:seq, :hash, :ts, :kid, :signature)",
           **{**genuine, "seq": 10**12})  # fmt: skip
    _alice_queries(gw)
    status = _witnessed_head(gw, 20 * CHECKPOINT_S)
    assert status["witnessed"]["seq"] == status["head"]["seq"], (
        f"alice's last queries never signed nor witnessed: head {status['head']['seq']}, "
        f"witnessed {status['witnessed']['seq']}, sealed {status['sealed']}"
    )


def test_a_checkpoint_row_above_the_head_is_evidence(gw: DemoGateway) -> None:
    """The row signs nothing that exists, and no gateway wrote it: the monitor's walk
    names it as evidence (a full verify did; the status said all was well until then)."""
    _alice_queries(gw, 1)
    assert _witnessed_head(gw, 10 * CHECKPOINT_S)["witnessed"] is not None
    genuine = _newest_checkpoint(gw)
    gw.sql("INSERT INTO audit_checkpoints (seq, hash, ts, kid, signature) "
           "VALUES (:seq, :hash, :ts, :kid, :signature)",
           **{**genuine, "seq": 10**12})  # fmt: skip
    status = _sealed(gw, 20 * CHECKPOINT_S)
    assert status["sealed"], f"a forged checkpoint row went unnoticed: {status}"
    assert "10000000000" in str(status["reason"]) + str(status["evidence"])


def test_a_junk_checkpoint_at_the_head_is_evidence(gw: DemoGateway) -> None:
    _alice_queries(gw, 1)
    assert _witnessed_head(gw, 10 * CHECKPOINT_S)["witnessed"] is not None
    genuine = _newest_checkpoint(gw)
    for _attempt in range(20):  # until the head is one the gateway has not signed yet
        _alice_queries(gw, 2)
        head = _status(gw)["head"]
        try:
            gw.sql("INSERT INTO audit_checkpoints (seq, hash, ts, kid, signature) "
                   "VALUES (:seq, :hash, :ts, :kid, :signature)",
                   **{**genuine, "seq": head["seq"], "hash": head["hash"]})  # fmt: skip
            break
        except IntegrityError:
            continue  # signed in its own batch already: next head
    else:
        pytest.fail("every head was signed before the insider could write")
    # the walk that verifies checkpoints below the head keeps to 2% of a core: on a busy
    # machine its next window may be most of a minute away
    status = _sealed(gw, 90 * CHECKPOINT_S)
    assert status["sealed"], (
        f"a checkpoint no gateway signed stood for the head: head {status['head']['seq']}, "
        f"witnessed {(status['witnessed'] or {}).get('seq')}, not sealed"
    )
