"""Two approvals of one request at once, through the HTTP API, on the embedded default
and on PostgreSQL (``deployment``).

An L4 access request waits on two different stewards of its department; a
re-identification on a steward of each source department. An approval read the
request (status ``pending``, the approvals so far), appended its event, then wrote the
approvals list back. The commit compared the status only, so two approvals that both
read the same list both committed (200 and 200) and the second write dropped the first
approval: the request stayed short of approvals and one approver was told a lie (red
team 20; THREAT_MODEL.md "two L4 approvals at once").

Each test holds the first approval just before it writes (its event about to be
appended), lets the second one run meanwhile, then lets the first go: the interleaving
that lost an approval, every time. Expected: every 200 is an approval recorded and
counted (both 200: the request is approved and its grant works), a loser gets 409 with a
message and may approve again; never the same approver twice, never more approvals than
given, and the trail names exactly the approvals the request holds.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Mapping
from typing import Any

import orjson
import pytest

from tests.gateway.comparison_env import run_to_end
from tests.gateway.demo_app import DemoGateway

DIBAO = "civil.dibao_recipients"
MODEL = "demo.payroll_on_dibao"
HOLD_S = 0.5  # how long the first approval waits for the second one to finish
# where the first approval is held: before it binds the request's new state on the
# trail (the second then wrote over it: an approval lost behind two 200s), or after,
# at its own event (the second was then refused as "changed outside the gateway")
HOLDS = ("binding", "event")


@pytest.fixture(scope="module")
def l4_entry(deployment: DemoGateway) -> DemoGateway:
    """dibao's phone at L4 (carl's classification), a second civil steward (cora) and
    an L4 analyst of 长沙县 (lena), all made through the API."""
    gw = deployment
    root = gw.headers("root")
    for subject, body, role, domain in (
        ("cora", {"display_name": "Cora", "department": "civil", "clearance": "L3",
                  "jurisdiction": [""]}, "steward", "civil"),
        ("lena", {"display_name": "Lena", "clearance": "L4", "jurisdiction": ["430121"]},
         "analyst", "*"),
    ):  # fmt: skip
        resp = gw.client.put(f"/api/v1/admin/users/{subject}", json=body, headers=root)
        assert resp.status_code == 200, resp.text
        resp = gw.client.post(f"/api/v1/admin/users/{subject}/roles",
                              json={"role": role, "domain": domain}, headers=root)  # fmt: skip
        assert resp.status_code == 200, resp.text
    resp = gw.client.patch(f"/api/v1/datasets/{DIBAO}", headers=gw.headers("carl"),
                           json={"fields": {"phone": {"level": "L4"}}})  # fmt: skip
    assert resp.status_code == 200, resp.text
    return gw


@pytest.fixture(scope="module")
def run(deployment: DemoGateway) -> dict[str, Any]:
    view = run_to_end(deployment, "dora", MODEL)
    assert view["status"] == "done" and view["hits"] >= 1, view
    return view


def _approve(gw: DemoGateway, subject: str, request_id: str) -> Any:
    return gw.client.post(f"/api/v1/access-requests/{request_id}/approve",
                          headers=gw.headers(subject))  # fmt: skip


def _at_once(gw: DemoGateway, request_id: str, approvers: tuple[str, str], event_type: str,
             hold: str) -> dict[str, Any]:  # fmt: skip
    """The first approver's approval held (it has read the request and is about to
    write it: ``hold``, see ``HOLDS``) while the second one's runs; then it goes on."""
    first, second = approvers
    audit = gw.services.audit
    original = audit.append
    holding, second_done = threading.Event(), threading.Event()
    held = threading.Lock()

    def held_append(event: Mapping[str, Any]) -> Any:
        at = (event.get("type") == "catalog.row_bound"
              and str(event.get("resource", "")).endswith("/" + request_id)
              if hold == "binding" else event.get("type") == event_type)  # fmt: skip
        if at and held.acquire(blocking=False):
            holding.set()
            second_done.wait(HOLD_S)  # fixed: the second waits for the first instead
        return original(event)

    results: dict[str, Any] = {}

    def approve(subject: str) -> None:
        results[subject] = _approve(gw, subject, request_id)
        if subject == second:
            second_done.set()

    audit.append = held_append
    try:
        one = threading.Thread(target=approve, args=(first,))
        one.start()
        assert holding.wait(30), "the first approval never reached its event"
        two = threading.Thread(target=approve, args=(second,))
        two.start()
        one.join(60)
        two.join(60)
    finally:
        audit.append = original
    return results


def _trail(gw: DemoGateway, event_type: str, key: str, request_id: str) -> list[dict[str, Any]]:
    """The request's approval events and the refusals of its approve path, oldest first."""
    found = []
    for kind in (event_type, "request.refused"):
        page = gw.client.get("/api/v1/audit/events", params={"type": kind, "limit": 500},
                             headers=gw.headers("sam"))  # fmt: skip
        assert page.status_code == 200, page.text
        path = f"/api/v1/access-requests/{request_id}/approve"
        for e in page.json()["items"]:
            if e["details"].get(key) == request_id or e["details"].get("path") == path:
                found.append(e)
    return sorted(found, key=lambda e: int(e["seq"]))


def _counted_on_trail(events: list[dict[str, Any]], event_type: str) -> list[str]:
    """Who the trail says approved: each approval event, less those its approver's
    next event refused (a lost compare-and-set is on record right after its event)."""
    counted: list[str] = []
    open_: dict[str, bool] = {}
    for e in events:
        actor = e["actor"]["sub"]
        if e["type"] == event_type:
            counted.append(actor)
            open_[actor] = True
        elif open_.pop(actor, False) and e["details"].get("status") == 409:
            counted.remove(actor)
    return counted


def _settled(gw: DemoGateway, request_id: str, results: dict[str, Any]) -> None:
    """Each response a 200, or a 409 saying the request changed meanwhile (not that it
    was tampered with); a 409's approver approves again, and that one counts."""
    assert len(results) == 2, results
    for subject, resp in results.items():
        assert resp.status_code in (200, 409), (subject, resp.status_code, resp.text)
        if resp.status_code == 409:
            assert resp.json()["code"] == "conflict", resp.text
            again = _approve(gw, subject, request_id)
            assert again.status_code == 200, (subject, again.text)


def _check_counted(gw: DemoGateway, body: dict[str, Any], approvers: tuple[str, str],
                   event_type: str, key: str) -> None:  # fmt: skip
    """Both approvals on the request (none twice), and exactly those on the trail."""
    by = [a["by"] for a in body["approvals"]]
    assert sorted(by) == sorted(approvers), body  # every approval counted, none twice
    assert body["status"] == "approved" and body["sealed"] is True, body
    events = _trail(gw, event_type, key, body["id"])
    on_trail = _counted_on_trail(events, event_type)
    assert sorted(on_trail) == sorted(approvers), [
        (e["seq"], e["type"], e["actor"]["sub"], e["details"].get("approvals")) for e in events
    ]
    final = [e for e in events if e["type"] == event_type][-1]
    assert final["details"]["status"] == "approved", final
    named = [a if isinstance(a, str) else a["by"] for a in final["details"]["approvals"]]
    assert sorted(named) == sorted(approvers), final


ROUNDS = 6  # rounds of the unheld race: each lost an approval often enough before


def _race(gw: DemoGateway, request_id: str, approvers: tuple[str, str]) -> dict[str, Any]:
    """Both approvals leave a barrier together (the interleaving is the scheduler's)."""
    results: dict[str, Any] = {}
    barrier = threading.Barrier(2)

    def approve(subject: str) -> None:
        barrier.wait(30)
        results[subject] = _approve(gw, subject, request_id)

    threads = [threading.Thread(target=approve, args=(s,)) for s in approvers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    return results


# (kind, requester, event type, the event's key for the request)
Kind = tuple[str, str, str, str]
REIDENTIFICATION: Kind = ("reidentification", "dora", "reidentification.approved",
                          "reidentification")  # fmt: skip
L4_ACCESS: Kind = ("l4", "lena", "access.approved", "access_request")


def _ask(gw: DemoGateway, kind: Kind, run_id: str = "") -> str:
    """A new pending request of ``kind``: hit 1 of ``run_id``, or lena's L4 phone field."""
    if kind == REIDENTIFICATION:
        body: dict[str, Any] = {"run": run_id, "hits": [1], "purpose": "supervision"}
    else:
        body = {"dataset": DIBAO, "fields": ["phone"], "purpose": "audit", "days": 1}
    body.update(case_ref=f"RT-{uuid.uuid4().hex[:8]}", justification="red team 20")
    ask = gw.client.post("/api/v1/access-requests", json=body, headers=gw.headers(kind[1]))
    assert ask.status_code == 201, ask.text
    if kind == L4_ACCESS:
        assert ask.json()["required_approvals"] == 2
    return str(ask.json()["id"])


def _both_counted(gw: DemoGateway, kind: Kind, request_id: str, approvers: tuple[str, str],
                  results: dict[str, Any]) -> dict[str, Any]:  # fmt: skip
    """After the race (and a 409's retry): approved, by exactly the two, on the trail."""
    _settled(gw, request_id, results)
    state = gw.client.get(f"/api/v1/access-requests/{request_id}", headers=gw.headers(kind[1]))
    body = dict(state.json())
    assert body["status"] == "approved", (results, body)
    _check_counted(gw, body, approvers, kind[2], kind[3])
    return body


@pytest.mark.parametrize("hold", HOLDS)
@pytest.mark.parametrize("approvers", [("carl", "fiona"), ("fiona", "carl")])
def test_two_departments_approve_a_reidentification_at_once(
    deployment: DemoGateway, run: dict[str, Any], approvers: tuple[str, str], hold: str
) -> None:
    gw = deployment
    request_id = _ask(gw, REIDENTIFICATION, run["id"])
    results = _at_once(gw, request_id, approvers, REIDENTIFICATION[2], hold)
    body = _both_counted(gw, REIDENTIFICATION, request_id, approvers, results)
    assert sorted(a["department"] for a in body["approvals"]) == ["civil", "finance"], body
    released = gw.client.get(f"/api/v1/comparison-runs/{run['id']}/hits",
                             params={"reidentified": "true"},
                             headers=gw.headers("dora"))  # fmt: skip
    assert released.status_code == 200, released.text
    assert 1 in {r["hit_id"] for r in orjson.loads(released.content)["rows"]}


def test_reidentification_approvals_sent_at_once_without_a_hold(
    deployment: DemoGateway, run: dict[str, Any]
) -> None:
    for _ in range(ROUNDS):
        request_id = _ask(deployment, REIDENTIFICATION, run["id"])
        results = _race(deployment, request_id, ("carl", "fiona"))
        _both_counted(deployment, REIDENTIFICATION, request_id, ("carl", "fiona"), results)


@pytest.mark.parametrize("hold", HOLDS)
@pytest.mark.parametrize("approvers", [("carl", "cora"), ("cora", "carl")])
def test_two_l4_approvals_at_once_are_both_counted(
    l4_entry: DemoGateway, approvers: tuple[str, str], hold: str
) -> None:
    gw = l4_entry
    request_id = _ask(gw, L4_ACCESS)
    results = _at_once(gw, request_id, approvers, L4_ACCESS[2], hold)
    body = _both_counted(gw, L4_ACCESS, request_id, approvers, results)
    # the grant works: lena reads the phone numbers in clear
    rows = gw.query("lena", DIBAO, {"fields": ["phone"], "unmask": ["phone"], "limit": 5,
                                    "purpose": "audit", "case_ref": body["case_ref"]})  # fmt: skip
    assert rows.status_code == 200, rows.text
    got = orjson.loads(rows.content)["rows"]
    assert got and all("*" not in (r["phone"] or "*") for r in got), got


def test_l4_approvals_sent_at_once_without_a_hold(l4_entry: DemoGateway) -> None:
    for _ in range(ROUNDS):
        request_id = _ask(l4_entry, L4_ACCESS)
        results = _race(l4_entry, request_id, ("carl", "cora"))
        _both_counted(l4_entry, L4_ACCESS, request_id, ("carl", "cora"), results)
