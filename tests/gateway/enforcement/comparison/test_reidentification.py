"""Re-identification after approval (issue 15), through the HTTP API on the embedded
default: an analyst asks for the real identities behind named hits of their run; a
steward of each source department approves; those hits — only those — come back with
each side's ID number in clear, matching the tokens of the hit list; each release is on
record with the hit ids and every side's governed re-read; a revocation stops it."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
import pyarrow as pa
import pytest

from catalog.comparison_models import ComparisonRun
from catalog.errors import Forbidden
from catalog.reidentifications import DEFAULT_RELEASE_DAYS, ReidentificationRequest, release_ttl
from gateway.enforcement.comparison import reidentify
from gateway.enforcement.masking import hash_token
from gateway.enforcement.masking.apply import mask_array
from gateway.stewardship.row_trail import bind_changed
from policies.decision import UserContext
from tests.attacks.respelt import grouped, on_payroll_and_roll, respelt
from tests.gateway.comparison_env import (
    CASE,
    comparison_gateway,
    events,
    hits,
    run_to_end,
    runner,
)
from tests.gateway.demo_app import DemoGateway

MODEL = "demo.payroll_on_dibao"
ID_NUMBER = re.compile(rb"(?<![0-9a-fA-F])\d{17}[\dX](?![0-9a-fA-F])")
ASK = {"purpose": "supervision", "case_ref": "JW-CASE-7", "justification": "open a case"}


@pytest.fixture(scope="module")
def gw(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DemoGateway]:
    with comparison_gateway(tmp_path_factory.mktemp("reid"), "sqlite") as g:
        yield g


@pytest.fixture(scope="module")
def run(gw: DemoGateway) -> dict[str, Any]:
    view = run_to_end(gw, "dora", MODEL)
    assert view["status"] == "done" and view["hits"] >= 3, view
    return view


def ask(gw: DemoGateway, subject: str, run_id: str, hit_ids: list[int]) -> Any:
    return gw.client.post("/api/v1/access-requests", json={"run": run_id, "hits": hit_ids, **ASK},
                          headers=gw.headers(subject))  # fmt: skip


def decide(gw: DemoGateway, subject: str, request_id: str, action: str = "approve") -> Any:
    body = {} if action == "approve" else {"reason": "done"}
    return gw.client.post(f"/api/v1/access-requests/{request_id}/{action}",
                          json=body if body else None, headers=gw.headers(subject))  # fmt: skip


def released(gw: DemoGateway, subject: str, run_id: str) -> Any:
    return gw.client.get(f"/api/v1/comparison-runs/{run_id}/hits",
                         params={"reidentified": "true"}, headers=gw.headers(subject))  # fmt: skip


def test_released_after_each_department_approves_and_stopped_by_revoke(
    gw: DemoGateway, run: dict[str, Any]
) -> None:
    resp = ask(gw, "dora", run["id"], [2, 1])
    assert resp.status_code == 201, resp.text
    req = resp.json()
    assert req["kind"] == "reidentification" and req["status"] == "pending"
    assert req["hits"] == [1, 2] and req["departments"] == ["civil", "finance"]
    assert req["waiting_on"] == ["civil", "finance"]
    assert released(gw, "dora", run["id"]).status_code == 403  # nothing approved yet

    first = decide(gw, "carl", req["id"])
    assert first.status_code == 200, first.text
    assert first.json()["waiting_on"] == ["finance"] and first.json()["status"] == "pending"
    assert first.json()["approvals"][0]["at"].endswith("Z")
    assert released(gw, "dora", run["id"]).status_code == 403  # one department is not all

    second = decide(gw, "fiona", req["id"])
    assert second.status_code == 200, second.text
    assert second.json()["status"] == "approved"

    resp = released(gw, "dora", run["id"])
    assert resp.status_code == 200, resp.text
    rows = orjson.loads(resp.content)["rows"]
    assert [r["hit_id"] for r in rows] == [1, 2]
    case_key = runner(gw).broker.subjects.case_key(CASE["case_ref"])
    for row in rows:
        ids = {k: v for k, v in row.items() if k.endswith(".reidentified")}
        assert set(ids) == {"p.id_number.reidentified", "d.id_number.reidentified"}, row
        for raw in ids.values():
            assert raw is not None and len(raw) == 18
            token = mask_array(pa.array([raw]), "hash", hash_key=case_key)[0].as_py()
            assert token == row["key_token"]  # the identity is that hit's, on every side

    found = events(gw, run_id=run["id"], types=("reidentification.released",), want=1)
    assert found and found[-1]["details"]["hit_ids"] == [1, 2]
    assert found[-1]["details"]["requests"] == [req["id"]]
    assert found[-1]["actor"]["sub"] == "dora"
    sides = [e for e in events(gw, types=("query.completed",), want=2)
             if (e.get("details") or {}).get("reidentification") == [req["id"]]]  # fmt: skip
    assert len(sides) == 2 and all(e["details"]["delivered"] is False for e in sides)

    revoked = decide(gw, "carl", req["id"], "revoke")
    assert revoked.status_code == 200, revoked.text
    assert released(gw, "dora", run["id"]).status_code == 403


def test_requests_are_listed_for_the_requester_and_each_departments_steward(
    gw: DemoGateway, run: dict[str, Any]
) -> None:
    resp = ask(gw, "dora", run["id"], [3])
    assert resp.status_code == 201, resp.text
    rid = resp.json()["id"]
    for subject in ("dora", "carl", "fiona"):
        listed = gw.client.get("/api/v1/access-requests", headers=gw.headers(subject))
        assert rid in {r["id"] for r in listed.json()}, subject
        one = gw.client.get(f"/api/v1/access-requests/{rid}", headers=gw.headers(subject))
        assert one.status_code == 200 and one.json()["run"] == run["id"]
    for outsider in ("alice", "sam"):
        listed = gw.client.get("/api/v1/access-requests", headers=gw.headers(outsider))
        assert rid not in {r["id"] for r in listed.json()}
        one = gw.client.get(f"/api/v1/access-requests/{rid}", headers=gw.headers(outsider))
        assert one.status_code == 404
    assert events(gw, run_id=run["id"], types=("reidentification.requested",), want=2)


def _approved_ago(gw: DemoGateway, request_id: str, ago: timedelta) -> None:
    """Move the request's approval back in time, as the clock would (the row as a
    gateway writes it: sealed, and its state bound on the trail)."""
    with gw.services.sessions() as session:
        req = session.get(ReidentificationRequest, request_id)
        assert req is not None and req.status == "approved"
        req.approved_at = datetime.now(UTC) - ago
        bind_changed(gw.services.audit, session)
        session.commit()


def test_an_approved_release_expires(gw: DemoGateway, run: dict[str, Any]) -> None:
    """dora's approved release works until ``release_ttl`` after its approval; once it
    is over, her read of the identities is refused (403, no ID number) and the refusal
    is on record; the refusal's reason is the expiry, and asking again is how she gets
    them back."""
    resp = ask(gw, "dora", run["id"], [1])
    assert resp.status_code == 201, resp.text
    rid = resp.json()["id"]
    for steward in ("carl", "fiona"):
        assert decide(gw, steward, rid).status_code == 200
    ttl = release_ttl()
    assert ttl == timedelta(days=DEFAULT_RELEASE_DAYS)

    _approved_ago(gw, rid, ttl - timedelta(minutes=5))  # about to expire: still released
    resp = released(gw, "dora", run["id"])
    assert resp.status_code == 200, resp.text
    assert [r["hit_id"] for r in orjson.loads(resp.content)["rows"]] == [1]

    _approved_ago(gw, rid, ttl + timedelta(minutes=1))  # over
    resp = released(gw, "dora", run["id"])
    assert resp.status_code == 403, resp.text
    assert b"expired" in resp.content and b"ask again" in resp.content  # says why
    assert not ID_NUMBER.search(resp.content)
    refused = [e for e in events(gw, types=("request.refused",), want=1)
               if e["actor"]["sub"] == "dora"
               and run["id"] in (e.get("resource") or "")]  # fmt: skip
    assert refused and refused[-1]["outcome"] == "denied"
    assert refused[-1]["details"]["status"] == 403
    with gw.services.sessions() as session:  # why: the expiry, with the request to renew
        stored = session.get(ComparisonRun, run["id"])
        assert stored is not None
        user = UserContext(subject="dora", department=None, roles=(), clearance="L1")
        assert reidentify.approved(session, stored, user) == ([], [])
        with pytest.raises(Forbidden, match="expired") as refusal:
            reidentify.refuse_if_expired(session, stored, user)
        assert refusal.value.details["requests"] == [rid]

    again = ask(gw, "dora", run["id"], [1])  # asking again is the way back
    assert again.status_code == 201, again.text
    for steward in ("carl", "fiona"):
        assert decide(gw, steward, again.json()["id"]).status_code == 200
    assert released(gw, "dora", run["id"]).status_code == 200


def test_a_number_spelt_apart_is_released_for_its_hit(gw: DemoGateway) -> None:
    """Stop 37: a hit's person whose number civil's roll holds grouped with spaces and a
    lower-case check digit is still the hit (the run keys it canonically), and its
    release finds the roll's row by that key: the number comes back as the roll holds
    it, beside the payroll's."""
    data = gw.settings.demo_data_dir
    number = on_payroll_and_roll(data)
    stored = grouped(number)
    with respelt(data / "civil.db", "dibao_recipients", number, stored):
        view = run_to_end(gw, "dora", MODEL)
        token = hash_token(number, runner(gw).broker.subjects.case_key(CASE["case_ref"]))
        rows = orjson.loads(hits(gw, "dora", view["id"]).content)["rows"]
        hit = next(r["hit_id"] for r in rows if r["key_token"] == token)
        req = ask(gw, "dora", view["id"], [hit]).json()
        for steward in ("carl", "fiona"):
            assert decide(gw, steward, req["id"]).status_code == 200
        resp = released(gw, "dora", view["id"])
    assert resp.status_code == 200, resp.text
    (row,) = orjson.loads(resp.content)["rows"]
    assert row["d.id_number.reidentified"] == stored
    assert row["p.id_number.reidentified"] == number
