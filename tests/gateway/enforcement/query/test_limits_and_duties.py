"""Rate limits, daily row quotas (in memory and shared through Redis), source failures,
two stewards for L4, role changes without restart, and the self-lookup alert."""

from __future__ import annotations

import re
import threading
import time
import uuid
from pathlib import Path

import orjson
import pytest

from audit.alerts import compute_alerts
from audit.search import EventFilter, list_events
from catalog.errors import RateLimited
from catalog.models import Dataset, Source, User
from gateway.enforcement.limits import Limiter
from tests.gateway.demo_app import DemoGateway, demo_gateway

DIBAO = "civil.dibao_recipients"
CASE = {"purpose": "supervision", "case_ref": "JW-2026-001"}


def _events(gw: DemoGateway, **filters: object) -> list[dict]:
    page = list_events(store=gw.services.audit.store, filters=EventFilter(**filters), limit=200)
    return page["items"]


def test_rate_limit_gives_429_and_is_audited(tmp_path: Path) -> None:
    with demo_gateway(tmp_path / "h", rate_limit="3/minute") as gw:
        body = {"fields": ["region_code"], "limit": 1, **CASE}
        assert [gw.query("arthur", DIBAO, body).status_code for _ in range(3)] == [200] * 3
        over = gw.query("arthur", DIBAO, body)
        assert over.status_code == 429
        assert over.json()["code"] == "rate_limited"
        assert gw.query("alice", DIBAO, body).status_code == 200  # per user
        denied = _events(gw, type="query.denied", actor="arthur")
        assert denied and "too many requests" in denied[0]["details"]["limit"]


def test_daily_row_quota_cuts_then_refuses(tmp_path: Path) -> None:
    with demo_gateway(tmp_path / "h", daily_row_quota=30) as gw:
        body = {"fields": ["region_code"], "limit": 20, **CASE}
        first = orjson.loads(gw.query("arthur", DIBAO, body).content)
        assert len(first["rows"]) == 20
        second = orjson.loads(gw.query("arthur", DIBAO, body).content)
        assert len(second["rows"]) == 10 and second["truncated"] is True
        third = gw.query("arthur", DIBAO, body)
        assert third.status_code == 429
        assert "quota" in third.json()["message"]


def test_redis_limiter_is_shared_by_replicas() -> None:
    subject = f"user-{uuid.uuid4().hex}"
    one = Limiter(rate="2/minute", daily_rows=100, storage_uri="redis://127.0.0.1:6379")
    two = Limiter(rate="2/minute", daily_rows=100, storage_uri="redis://127.0.0.1:6379")
    one.hit_request(subject)
    two.hit_request(subject)
    with pytest.raises(RateLimited):
        one.hit_request(subject)
    one.consume_rows(subject, 40)
    assert two.remaining_rows(subject) == 60


def test_source_down_is_a_502_with_a_message_and_audited(tmp_path: Path) -> None:
    # a local server must be allowed by an admin before it can be a source (class 3)
    with demo_gateway(tmp_path / "h", source_allow_hosts=["127.0.0.1"]) as gw:
        # only the queried department's source: one system belongs to one department
        with gw.services.sessions() as session:
            civil = session.get(Source, "civil-db")
            assert civil is not None
            civil.kind = "postgresql"
            civil.settings = {"url": "postgresql+psycopg://postgres@127.0.0.1:1/nowhere"}
            session.commit()
        resp = gw.query("arthur", DIBAO, {"fields": ["region_code"], **CASE})
        assert resp.status_code == 502, resp.text
        assert resp.json()["code"] == "source_failed" and resp.json()["message"]
        failed = _events(gw, type="query.failed")
        assert failed and failed[0]["outcome"] == "error"


def test_l4_fields_need_two_different_stewards(tmp_path: Path) -> None:
    with demo_gateway(tmp_path / "h") as gw:
        with gw.services.sessions() as session:
            dataset = session.get(Dataset, DIBAO)
            assert dataset is not None
            for f in dataset.fields:
                if f.name == "phone":
                    f.level = "L4"
            session.add(
                User(
                    subject="lena",
                    display_name="Lena",
                    department=None,
                    clearance="L4",
                    jurisdiction=["430121"],
                    roles=["analyst"],
                )
            )
            session.add(
                User(
                    subject="cora",
                    display_name="Cora",
                    department="civil",
                    clearance="L3",
                    jurisdiction=[""],
                    roles=["steward"],
                )
            )
            session.commit()
        gw.services.authorizer.assign(subject="lena", role="analyst", domain="*")
        gw.services.authorizer.assign(subject="cora", role="steward", domain="civil")

        ask = gw.client.post(
            "/api/v1/access-requests",
            headers=gw.headers("lena"),
            json={
                "dataset": DIBAO,
                "fields": ["phone"],
                "days": 3,
                "justification": "contact check",
                **CASE,
            },
        ).json()
        assert ask["required_approvals"] == 2
        url = f"/api/v1/access-requests/{ask['id']}/approve"
        assert gw.client.post(url, headers=gw.headers("carl")).json()["status"] == "pending"
        twice = gw.client.post(url, headers=gw.headers("carl"))
        assert twice.status_code == 403
        query = {"fields": ["phone"], "unmask": ["phone"], "limit": 5, **CASE}
        assert gw.query("lena", DIBAO, query).status_code == 403  # one approval is not enough
        assert gw.client.post(url, headers=gw.headers("cora")).json()["status"] == "approved"
        rows = orjson.loads(gw.query("lena", DIBAO, query).content)["rows"]
        assert rows and all(re.fullmatch(r"1[3-9]\d{9}", r["phone"]) for r in rows)


def test_role_change_takes_effect_without_restart(gw_sqlite: DemoGateway) -> None:
    gw = gw_sqlite
    body = {"fields": ["region_code"], "limit": 1, **CASE}
    assert gw.query("arthur", DIBAO, body).status_code == 200
    gw.services.authorizer.unassign(subject="arthur", role="analyst", domain="*")
    try:
        assert gw.query("arthur", DIBAO, body).status_code == 403
    finally:
        gw.services.authorizer.assign(subject="arthur", role="analyst", domain="*")
    assert gw.query("arthur", DIBAO, body).status_code == 200


def test_user_retrieving_their_own_record_raises_an_alert(tmp_path: Path) -> None:
    with demo_gateway(tmp_path / "h") as gw:
        body = {"fields": ["id_number", "region_code"], "limit": 1, **CASE}
        first = gw.query("alice", DIBAO, body)
        assert first.status_code == 200
        # alice's own ID number is the first one in her county (known only as a token)
        own = _first_raw_id(gw)
        broker = gw.client.app.state.broker
        with gw.services.sessions() as session:
            user = session.get(User, "alice")
            assert user is not None
            user.id_number_hash = broker.subjects.token(own)
            session.commit()
        broker.subjects.forget("alice")
        assert gw.query("alice", DIBAO, body).status_code == 200
        completed = _events(gw, type="query.completed", actor="alice")
        for _ in range(100):  # completions are queued behind the durable start
            if len(completed) == 2:
                break
            time.sleep(0.05)
            completed = _events(gw, type="query.completed", actor="alice")
        assert completed[0]["details"]["self_hash_hit"] is True
        assert own not in orjson.dumps(completed[0]).decode()  # tokens only, never raw
        rules = {a["rule"] for a in compute_alerts(list(reversed(completed)))}
        assert any("own" in r for r in rules), rules


def _first_raw_id(gw: DemoGateway) -> str:
    import sqlite3

    db = sqlite3.connect(gw.settings.demo_data_dir / "civil.db")
    try:
        row = db.execute(
            "SELECT id_number FROM dibao_recipients WHERE region_code LIKE '430121%' "
            "ORDER BY rowid LIMIT 1"
        ).fetchone()
    finally:
        db.close()
    return str(row[0])


def test_reclassifying_a_field_takes_effect_on_the_next_query(tmp_path: Path) -> None:
    """The broker reuses a parsed entry only while its rows are unchanged."""
    with demo_gateway(tmp_path / "h") as gw:
        body = {"fields": ["phone", "region_code"], "limit": 3, **CASE}
        assert gw.query("alice", DIBAO, body).status_code == 200  # masked at L3
        with gw.services.sessions() as session:
            dataset = session.get(Dataset, DIBAO)
            assert dataset is not None
            for f in dataset.fields:
                if f.name == "phone":
                    f.level = "L4"
            session.commit()
        refused = gw.query("alice", DIBAO, body)
        assert refused.status_code == 403, refused.text
        assert "phone" in refused.json()["message"]
        columns = orjson.loads(gw.query("alice", DIBAO, {**body, "fields": []}).content)["columns"]
        assert "phone" not in {c["name"] for c in columns}


@pytest.mark.parametrize("uri", ["memory://", "redis://127.0.0.1:6379"])
def test_row_reservations_are_atomic_under_threads(uri: str) -> None:
    """Sixteen threads reserving at once share the quota, never each the whole of it;
    what is released can be reserved again."""
    prefix = f"sluice-test-{uuid.uuid4().hex}"
    limiter = Limiter(rate="100/minute", daily_rows=1000, storage_uri=uri, key_prefix=prefix)
    barrier = threading.Barrier(16)
    granted: list[int] = []

    def take() -> None:
        barrier.wait()
        granted.append(limiter.reserve_rows("dora", 300))

    try:
        threads = [threading.Thread(target=take) for _ in range(16)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert sum(granted) == 1000 and max(granted) <= 300
        assert limiter.remaining_rows("dora") == 0
        limiter.release_rows("dora", 250)  # sent 750 of them
        assert limiter.remaining_rows("dora") == 250
        assert limiter.reserve_rows("dora", 400) == 250
    finally:
        limiter.reset()
