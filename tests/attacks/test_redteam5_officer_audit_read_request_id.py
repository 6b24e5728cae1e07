"""Red team 5, as a security officer (or an admin): an audit read filed under someone
else's request.

Rule: request ids on record are the gateway's; a client's ``X-Request-Id`` is kept only
as ``client_request_id``, and only when it is a plain token (docs/architecture.md, "One
query", step 8; class "Forged metadata" of the attack checklist).

Attack: the records of the auditor's own reads (``audit.read``, ``audit.exported``,
``audit.verified``, ``alert.*``) took the trail's ``request_id`` straight from the
client's ``X-Request-Id``. An officer reads the trail with ``X-Request-Id`` set to the
request id of an analyst's query: the officer's read is then filed under the analyst's
request (a search of the trail by that request lists it among the analyst's events),
and any header text — of any length, with any characters a header carries — became a
request id on record.
"""

from __future__ import annotations

from typing import Any

from audit.search import EventFilter, list_events
from tests.gateway.demo_app import DemoGateway

DIBAO = "civil.dibao_recipients"
QUERY = {"purpose": "supervision", "case_ref": "JW-2026-RID", "fields": ["region_code"],
         "limit": 1}  # fmt: skip


def _newest(gw: DemoGateway, type_: str) -> dict[str, Any]:
    page = list_events(store=gw.services.audit.store, filters=EventFilter(type=type_), limit=1,
                       order="desc")  # fmt: skip
    assert page["items"], type_
    return dict(page["items"][0])


def test_an_audit_read_is_never_filed_under_a_request_the_client_names(
    deployment: DemoGateway,
) -> None:
    gw = deployment
    answer = gw.query("alice", DIBAO, QUERY)
    assert answer.status_code == 200, answer.text
    analysts = gw.last_request_id()
    assert gw.request_events(analysts, 2)  # the analyst's query is on record

    read = gw.client.get("/api/v1/audit/events", params={"limit": 1},
                         headers={**gw.headers("sam"), "X-Request-Id": analysts})  # fmt: skip
    assert read.status_code == 200, read.text
    recorded = _newest(gw, "audit.read")
    assert recorded["actor"]["sub"] == "sam"
    assert recorded.get("request_id") != analysts, (
        "the officer's read is on record under the analyst's request id"
    )
    assert recorded["details"].get("client_request_id") == analysts  # kept as a side note
    assert all(e["actor"]["sub"] == "alice" for e in gw.request_events(analysts, 2))

    odd = "x" * 3000 + " ; DROP \t'\"{}"
    verify = gw.client.get("/api/v1/audit/verify",
                           headers={**gw.headers("sam"), "X-Request-Id": odd})  # fmt: skip
    assert verify.status_code == 200, verify.text
    recorded = _newest(gw, "audit.verified")
    assert recorded.get("request_id") != odd
    assert "client_request_id" not in recorded["details"]  # not a plain token: not kept
