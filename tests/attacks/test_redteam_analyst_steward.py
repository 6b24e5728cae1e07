"""Red team as an analyst and as a steward: siblings of the classes in ATTACKS.md in
paths the earlier attack tests did not cover. Each test goes through the HTTP API on the
embedded SQLite default and on a PostgreSQL deployment (``deployment``).

- **Concurrency.** A decision on an access request is check-then-act: the status is read,
  the audit event appended, then the row written. A withdrawal (or rejection) landing in
  between was overwritten by the approval, and a withdrawn request became a live grant.
- **Text the product cannot store.** A lone surrogate in a steward's tag made the catalog
  and the DCAT export 500 for everyone; NUL in bodies and path ids was a 500 on PostgreSQL.
- **Unbounded steward bodies.** A 25 MB edit was stored and served to every catalog reader.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Mapping
from typing import Any

from tests.gateway.demo_app import DemoGateway

DIBAO = "civil.dibao_recipients"


def _ask(gw: DemoGateway, case_ref: str) -> str:
    resp = gw.client.post(
        "/api/v1/access-requests",
        json={"dataset": DIBAO, "fields": ["phone"], "purpose": "audit", "case_ref": case_ref,
              "justification": "red team", "days": 1},
        headers=gw.headers("alice"),
    )  # fmt: skip
    assert resp.status_code == 201, resp.text
    return str(resp.json()["id"])


def test_an_approval_racing_a_withdrawal_never_revives_the_request(
    deployment: DemoGateway,
) -> None:
    """carl's approval reads the request as pending; alice withdraws it before the
    approval is written. The withdrawal must stand: no grant, and the approval is
    refused (and on record as refused), not silently applied over it."""
    gw = deployment
    case_ref = f"RT-RACE-{uuid.uuid4().hex[:8]}"
    request_id = _ask(gw, case_ref)
    headers = {"carl": gw.headers("carl"), "alice": gw.headers("alice")}

    audit = gw.services.audit
    original = audit.append
    approving = threading.Event()
    withdrawn = threading.Event()

    def held_append(event: Mapping[str, Any]) -> Any:
        if event.get("type") == "access.approved":
            approving.set()  # the approval has read "pending" and is about to write
            assert withdrawn.wait(30)
        return original(event)

    results: dict[str, Any] = {}

    def approve() -> None:
        results["approve"] = gw.client.post(
            f"/api/v1/access-requests/{request_id}/approve", headers=headers["carl"]
        )

    audit.append = held_append
    try:
        thread = threading.Thread(target=approve)
        thread.start()
        assert approving.wait(30)
        revoke = gw.client.post(
            f"/api/v1/access-requests/{request_id}/revoke", json={"reason": "withdrawn"},
            headers=headers["alice"],
        )  # fmt: skip
        withdrawn.set()
        thread.join(30)
    finally:
        audit.append = original
    assert revoke.status_code == 200, revoke.text
    assert results["approve"].status_code == 409, results["approve"].text

    state = gw.client.get(f"/api/v1/access-requests/{request_id}", headers=headers["alice"])
    assert state.json()["status"] == "revoked"
    rows = gw.query("alice", DIBAO, {"fields": ["phone"], "unmask": ["phone"], "limit": 5,
                                     "purpose": "audit", "case_ref": case_ref})  # fmt: skip
    assert rows.status_code == 403 or all(
        "*" in (r["phone"] or "*") for r in rows.json()["rows"]
    ), rows.text


# ---------------------------------------------------------------------------------------
# Text re-parsed as structure / hostile text: a steward's lone surrogate in a tag was
# stored (JSON columns keep "\ud800" escapes) and then every catalog listing and the DCAT
# export answered 500 for everyone; a NUL in a title, a description, a source name, a
# justification or a rejection reason was a 500 on PostgreSQL (text cannot hold NUL).
# Every JSON body is now refused (400, on record) when a string in it holds a NUL or a
# lone surrogate, before any route stores or forwards it.

HOSTILE_EDITS = [
    ("carl", "PATCH", f"/api/v1/datasets/{DIBAO}", '{"tags": ["\\ud800"]}'),
    ("carl", "PATCH", f"/api/v1/datasets/{DIBAO}", '{"allowed_purposes": ["audit\\udc00"]}'),
    ("carl", "PATCH", f"/api/v1/datasets/{DIBAO}", '{"title_en": "\\ud800"}'),
    ("carl", "PATCH", f"/api/v1/datasets/{DIBAO}", '{"title_en": "a\\u0000b"}'),
    ("carl", "PATCH", f"/api/v1/datasets/{DIBAO}",
     '{"fields": {"name": {"description": "x\\u0000"}}}'),
    ("carl", "PATCH", "/api/v1/sources/civil-db", '{"display_name": "x\\u0000"}'),
    ("carl", "POST", "/api/v1/datasets",
     '{"source_id": "civil-db", "object_name": "dibao_recipients", '
     '"dataset_id": "civil.rt_nul", "title_en": "t\\u0000"}'),
    ("alice", "POST", "/api/v1/access-requests",
     f'{{"dataset": "{DIBAO}", "fields": ["phone"], "purpose": "audit", "case_ref": "C1", '
     '"justification": "j\\u0000", "days": 1}'),
    ("alice", "POST", f"/api/v1/datasets/{DIBAO}/query",
     '{"fields": ["region_code"], "purpose": "audit", "case_ref": "C1", '
     '"where": [{"field": "status", "op": "=", "value": "\\u0000"}]}'),
]  # fmt: skip


def test_nul_and_lone_surrogates_are_refused_and_the_catalog_stays_up(
    deployment: DemoGateway,
) -> None:
    gw = deployment
    for subject, method, path, body in HOSTILE_EDITS:
        resp = gw.client.request(
            method, path, content=body.encode(),
            headers={**gw.headers(subject), "content-type": "application/json"},
        )  # fmt: skip
        assert resp.status_code == 400, (path, body, resp.status_code, resp.text)
        assert resp.json()["code"] == "bad_request"
        # on record like every refusal of an authenticated request
        page = gw.client.get(
            "/api/v1/audit/events", params={"type": "request.refused", "limit": 1},
            headers=gw.headers("sam"),
        )  # fmt: skip
        newest = page.json()["items"][0]
        assert newest["actor"]["sub"] == subject, newest
        assert newest["details"]["status"] == 400
    for path in ("/api/v1/catalog", "/api/v1/catalog.jsonld", f"/api/v1/catalog/{DIBAO}"):
        resp = gw.client.get(path)
        assert resp.status_code == 200, (path, resp.text)
    entry = gw.client.get(f"/api/v1/catalog/{DIBAO}").json()
    assert "\x00" not in entry["title_en"]
    # a valid non-BMP character (a surrogate *pair* in JSON) is ordinary text
    ok = gw.client.request(
        "PATCH", f"/api/v1/datasets/{DIBAO}", content=b'{"tags": ["dibao", "\\ud83d\\ude00"]}',
        headers={**gw.headers("carl"), "content-type": "application/json"},
    )  # fmt: skip
    assert ok.status_code == 200, ok.text
    assert "\U0001f600" in gw.client.get(f"/api/v1/catalog/{DIBAO}").json()["tags"]


def test_a_nul_in_a_path_parameter_is_a_400_not_a_database_error(deployment: DemoGateway) -> None:
    """On PostgreSQL the id went into a lookup and came back as a 500 (with a traceback
    in the log per request, anonymous callers included)."""
    gw = deployment
    asks = [
        (None, "GET", "/api/v1/catalog/a%00b"),
        ("alice", "GET", "/api/v1/access-requests/ar_%00"),
        ("carl", "POST", "/api/v1/access-requests/ar_%00/approve"),
        ("carl", "GET", "/api/v1/sources/x%00"),
        ("alice", "POST", "/api/v1/datasets/a%00/query"),
        ("carl", "PATCH", "/api/v1/datasets/a%00"),
        ("carl", "POST", "/api/v1/datasets/a%00/publish"),
    ]
    for subject, method, path in asks:
        headers = gw.headers(subject) if subject else {}
        body: dict[str, Any] | None = {} if method != "GET" else None
        resp = gw.client.request(method, path, json=body, headers=headers)
        assert resp.status_code == 400, (path, resp.status_code, resp.text)


def test_a_stewards_edit_cannot_inflate_the_public_catalog(deployment: DemoGateway) -> None:
    """Bodies were bounded on data endpoints only: one steward PATCH of 25 MB of tags and
    description was stored and served to every (anonymous) catalog reader and harvester.
    Every API body is bounded (413, on record)."""
    gw = deployment
    big = {"tags": ["x" * 1000] * 2000, "description_en": "y" * 100_000}
    resp = gw.client.patch(f"/api/v1/datasets/{DIBAO}", json=big, headers=gw.headers("carl"))
    assert resp.status_code == 413, (resp.status_code, resp.text[:200])
    assert len(gw.client.get("/api/v1/catalog").content) < 1_000_000
    for path in ("/api/v1/sources/civil-db", "/api/v1/datasets"):
        resp = gw.client.request(
            "PATCH" if "sources" in path else "POST", path,
            content=b'{"display_name": "' + b"z" * 2_000_000 + b'"}',
            headers={**gw.headers("carl"), "content-type": "application/json"},
        )  # fmt: skip
        assert resp.status_code == 413, (path, resp.status_code)


def test_removing_the_region_field_does_not_lift_jurisdiction(deployment: DemoGateway) -> None:
    """carl (civil steward) drops the entry's region field: with no field to filter rows
    by there would be no row filter, and alice (county 430121) would read every county.
    Her next query is refused instead; arthur (every region) still reads it."""
    gw = deployment
    body = {"fields": ["region_code"], "purpose": "supervision", "case_ref": "RT-REGION",
            "limit": 1000}  # fmt: skip
    before = gw.query("alice", DIBAO, body)
    assert before.status_code == 200, before.text
    assert {r["region_code"][:6] for r in before.json()["rows"]} == {"430121"}
    patch = gw.client.patch(f"/api/v1/datasets/{DIBAO}", json={"region_field": None},
                            headers=gw.headers("carl"))  # fmt: skip
    assert patch.status_code == 200, patch.text
    try:
        after = gw.query("alice", DIBAO, body)
        assert after.status_code == 403, after.text[:300]
        codes = [r["code"] for r in after.json()["details"]["reason_codes"]]
        assert codes == ["no_region_field"]
        assert gw.query("arthur", DIBAO, body).status_code == 200
    finally:
        restore = gw.client.patch(f"/api/v1/datasets/{DIBAO}",
                                  json={"region_field": "region_code"},
                                  headers=gw.headers("carl"))  # fmt: skip
        assert restore.status_code == 200, restore.text
