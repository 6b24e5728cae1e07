"""The audit API: officers search, verify, export; every read of the trail is audited."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from audit.export import verify_export
from audit.log import AuditLog
from gateway.web.errors import install_error_handlers
from gateway.web.routes import audit as routes
from policies.decision import UserContext
from tests.audit.helpers import event, open_log

OFFICER = UserContext(
    subject="officer1", department="inspection", roles=("security_officer",), clearance="L4"
)


@pytest.fixture
def log(tmp_path: Path, sluice_home: Path) -> Iterator[AuditLog]:
    audit_log = open_log(f"sqlite:///{tmp_path / 'routes.db'}", sluice_home)
    for n in range(8):
        audit_log.append(event(n))
    audit_log.append(event(8, type="query.denied", outcome="denied",
                           decision={"allow": False, "reasons": ["no grant"]},
                           actor={"sub": "mallory", "dept": "civil", "roles": []}))  # fmt: skip
    yield audit_log
    audit_log.close()


class Client:
    """Sync GETs through ``httpx.ASGITransport`` (starlette's TestClient warns here)."""

    def __init__(self, app: FastAPI) -> None:
        self.app = app

    def get(self, url: str, params: dict[str, Any] | None = None) -> httpx.Response:
        async def call() -> httpx.Response:
            transport = httpx.ASGITransport(app=self.app)
            async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
                return await http.get(url, params=params)

        return asyncio.run(call())


@pytest.fixture
def client(log: AuditLog) -> Client:
    app = FastAPI()
    install_error_handlers(app)
    app.include_router(routes.router)
    # the export is governed in flight (``gateway.web.audit_export``): the officer's
    # account is read again and ``audit:export`` checked, here always theirs
    settings = SimpleNamespace(stream_stall_timeout_s=20.0, stream_govern_every_s=1.0)
    allow = SimpleNamespace(check=lambda **_: None)
    # every audit read counts on the reader's rate (``gateway.web.deps.count_call``)
    unlimited = SimpleNamespace(hit_request=lambda _subject: None)
    app.state.services = SimpleNamespace(audit=log, settings=settings, authorizer=allow,
                                         limiter=unlimited)  # fmt: skip
    app.state.identities = SimpleNamespace(resolve=lambda user: user)
    for dependency in (
        routes.require_audit_reader,
        routes.require_audit_verifier,
        routes.require_audit_exporter,
        routes.require_alerts_reader,
    ):
        app.dependency_overrides[dependency] = lambda: OFFICER
    return Client(app)


def test_search_filters_and_paging(client: Client) -> None:
    page = client.get("/api/v1/audit/events", params={"limit": 4, "order": "asc"}).json()
    assert [e["seq"] for e in page["items"]] == [1, 2, 3, 4]
    nxt = client.get(
        "/api/v1/audit/events", params={"limit": 4, "order": "asc", "cursor": page["next_cursor"]}
    ).json()
    assert [e["seq"] for e in nxt["items"]] == [5, 6, 7, 8]
    denied = client.get("/api/v1/audit/events", params={"decision": "deny"}).json()["items"]
    assert [e["actor"]["sub"] for e in denied] == ["mallory"]
    by_dept = client.get("/api/v1/audit/events", params={"department": "civil"}).json()["items"]
    assert [e["seq"] for e in by_dept] == [9]
    by_case = client.get("/api/v1/audit/events", params={"case_ref": "CASE-3"}).json()["items"]
    assert [e["request_id"] for e in by_case] == ["req-3"]
    typed = client.get("/api/v1/audit/events", params={"type": "query.*", "actor": "user1"})
    assert {e["actor"]["sub"] for e in typed.json()["items"]} == {"user1"}


def test_reads_are_audited(client: Client) -> None:
    client.get("/api/v1/audit/events/3")
    reads = client.get("/api/v1/audit/events", params={"type": "audit.read"}).json()["items"]
    assert reads[0]["actor"]["sub"] == "officer1"
    assert {r["details"].get("seq") for r in reads} >= {3}
    assert client.get("/api/v1/audit/events/999").status_code == 404


def test_verify_export_keys_checkpoints(client: Client, log: AuditLog) -> None:
    body = client.get("/api/v1/audit/verify").json()
    assert body["ok"] is True and body["events"] >= 9
    export = client.get("/api/v1/audit/export", params={"format": "jsonl"})
    assert export.status_code == 200
    assert verify_export(export.content, trusted_kids=set(log.signer.public_keys())).ok
    csv_export = client.get("/api/v1/audit/export", params={"format": "csv"})
    assert verify_export(csv_export.content, trusted_kids=set(log.signer.public_keys())).ok
    keys = client.get("/api/v1/audit/keys").json()["keys"]
    assert log.signer.kid in {k["kid"] for k in keys}
    latest = client.get("/api/v1/audit/checkpoints/latest").json()
    assert latest["seq"] >= 10 and latest["kid"] == log.signer.kid


def test_alerts_link_to_events(client: Client, log: AuditLog) -> None:
    log.append(event(20, details={"self_hash_hit": True, "resource_dept": "finance"}))
    alerts = client.get("/api/v1/audit/alerts").json()["alerts"]
    own = [a for a in alerts if a["rule"] == "own_records"]
    assert own and own[0]["event_seqs"]


def test_failed_audit_append_refuses_the_read(client: Client, log: AuditLog) -> None:
    log.close()  # the trail can no longer be written: reading it must fail closed
    response = client.get("/api/v1/audit/events")
    assert response.status_code == 503
