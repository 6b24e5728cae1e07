"""Live alerts through the HTTP API, on the embedded default and on PostgreSQL.

One gateway per backend, configured with a local webhook receiver and a local SMTP
server (aiosmtpd): the new rules fire on planted activity and stay quiet on ordinary
activity; emergency actions taken on an alert show on it; erasing the tail of the trail
seals the gateway and the critical alert reaches the webhook and the mailbox. Waits
poll with a generous bound; nothing asserts on elapsed time.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from gateway.enforcement.query.subjects import subject_token
from tests.attacks.test_insider_audit import (
    _append,
    _insider,
    _scalar,
    _status,
    _unseal_with_two_people,
    _until,
    _witnessed_head,
)
from tests.audit.receivers import Mailbox, Webhook, smtp_server, webhook_receiver
from tests.conftest import drop_pg_database
from tests.gateway.demo_app import DemoGateway, demo_gateway
from tests.migrated import create_migrated_pg_database

SECRET = "live-alerts-webhook-secret-5521"
SMTP_FROM = "sluice@gw.example"
SMTP_TO = ["officer@example.org", "soc@example.org"]
BOUND_S = 30.0
CASE = {"purpose": "supervision", "case_ref": "JW-2026-001"}
SHANGHAI = ZoneInfo("Asia/Shanghai")
FROZEN = "civil.death_registrations"  # frozen and thawed by the emergency-actions test


@dataclass
class Live:
    gw: DemoGateway
    hook: Webhook
    mail: Mailbox

    def alerts(self, rule: str, check: Callable[[dict[str, Any]], bool] = bool,
               want: bool = True) -> list[dict[str, Any]]:  # fmt: skip
        """``GET /api/v1/audit/alerts`` of one rule, polled until one passes ``check``
        (``want=False``: read once, for the quiet checks after a firing one)."""
        deadline = time.monotonic() + BOUND_S
        while True:
            resp = self.gw.client.get("/api/v1/audit/alerts", headers=self.gw.headers("sam"))
            assert resp.status_code == 200, resp.text
            found = [a for a in resp.json()["alerts"] if a["rule"] == rule]
            if not want or any(check(a) for a in found):
                return found
            assert time.monotonic() < deadline, f"no {rule} alert within {BOUND_S} s"
            time.sleep(0.2)


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def live(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
         ) -> Iterator[Live]:  # fmt: skip
    home = tmp_path_factory.mktemp(f"live-alerts-{request.param}")
    with webhook_receiver() as hook, smtp_server() as mail:
        settings: dict[str, Any] = {
            "alert_webhook_url": hook.url, "alert_webhook_secret": SECRET,
            "alert_smtp_host": mail.host, "alert_smtp_port": mail.port,
            "alert_smtp_from": SMTP_FROM, "alert_smtp_to": SMTP_TO,
            "alert_smtp_starttls": False, "alert_eval_seconds": 0.5,
            "alert_push_backoff_seconds": 0.2,
            "alert_person_departments_per_day": 1,  # two departments' data of one person
        }  # fmt: skip
        if request.param == "sqlite":
            with demo_gateway(home, **settings) as gw:
                yield Live(gw, hook, mail)
            return
        name, url = create_migrated_pg_database("sluice_live_alerts")
        try:
            with demo_gateway(home, database_url=url, **settings) as gw:
                yield Live(gw, hook, mail)
        finally:
            drop_pg_database(name)


def _source(gw: DemoGateway, department: str, sql: str) -> list[tuple[Any, ...]]:
    """Read a demo department's own database (the source, not the gateway)."""
    path = gw.settings.demo_data_dir / f"{department}.db"
    conn = sqlite3.connect(path)
    try:
        return conn.execute(sql).fetchall()
    finally:
        conn.close()


def _query(gw: DemoGateway, who: str, dataset: str, fields: list[str],
           where: dict[str, Any]) -> None:  # fmt: skip
    body = {**CASE, "fields": fields, "limit": 50,
            "where": [{"field": k, "op": "=", "value": v} for k, v in where.items()]}  # fmt: skip
    resp = gw.query(who, dataset, body)
    assert resp.status_code == 200, resp.text


def test_one_person_looked_up_across_departments(live: Live) -> None:
    """dora reads one person's payroll row (finance) and allowance row (civil): one
    person's records from two departments' data in a day (the threshold is one here)."""
    gw = live.gw
    both = _source(gw, "finance", "SELECT id_number, employer, position, region_code, "
                   "monthly_salary FROM payroll ORDER BY id_number")  # fmt: skip
    dibao = {r[0]: r for r in _source(gw, "civil", "SELECT id_number, region_code, "
                                      "household_size, status, start_date "
                                      "FROM dibao_recipients")}  # fmt: skip
    person = next(r for r in both if r[0] in dibao)
    other = next(r for r in both if r[0] not in dibao)
    _query(gw, "dora", "finance.payroll", ["id_number", "employer", "region_code"],
           {"employer": person[1], "position": person[2], "region_code": person[3],
            "monthly_salary": person[4]})  # fmt: skip
    row = dibao[person[0]]
    _query(gw, "dora", "civil.dibao_recipients", ["id_number", "region_code", "status"],
           {"region_code": row[1], "household_size": row[2], "status": row[3],
            "start_date": str(row[4])})  # fmt: skip
    # ordinary activity: another person, read from one department only
    _query(gw, "dora", "finance.payroll", ["id_number", "employer"],
           {"employer": other[1], "position": other[2], "region_code": other[3],
            "monthly_salary": other[4]})  # fmt: skip

    token = subject_token(gw.settings.home, person[0])
    fired = live.alerts("person_many_departments", lambda a: a["subject"] == token)
    alert = next(a for a in fired if a["subject"] == token)
    assert alert["actor"] == "dora" and alert["severity"] == "high" and alert["state"] == "open"
    assert "2 departments" in alert["summary"] and person[0] not in str(alert)
    assert subject_token(gw.settings.home, other[0]) not in {a["subject"] for a in fired}
    # pushed by the runner to the webhook and by email, without anyone having to ask
    assert live.hook.alerts(want=lambda a: a["id"] == alert["id"])[-1]["id"] == alert["id"]
    mails = live.mail.messages(want=lambda m: m["X-Sluice-Alert-Id"] == alert["id"])
    assert mails and mails[-1][2]["X-Sluice-Alert-Id"] == alert["id"]
    assert mails[-1][1] == SMTP_TO


def _history(gw: DemoGateway, sub: str, *, hour: int, counties: list[str], days: int,
             per_day: int) -> None:  # fmt: skip
    """Plant a user's past deliveries in the trail (their history, days ago)."""
    today = datetime.now(SHANGHAI)
    for day in range(2, 2 + days):
        for k in range(per_day):
            at = (today - timedelta(days=day)).replace(hour=hour, minute=5 + k)
            gw.services.audit.append({
                "type": "query.completed", "outcome": "ok", "ts": at.astimezone(UTC),
                "actor": {"sub": sub, "dept": "commission", "roles": ["analyst"]},
                "resource": "dataset:civil.dibao_recipients", "rows": 5,
                "purpose": "supervision", "case_ref": "JW-2026-001",
                "details": {"resource_dept": "civil", "level": "L2", "counties": counties},
            })  # fmt: skip


def test_access_outside_a_users_usual_hours_and_counties(live: Live) -> None:
    """dora's history is twelve hours away from now, in one county that is not in the
    demo data; arthur's history is at this hour in every county he is about to read;
    alice has three past accesses only (too little history to judge)."""
    gw = live.gw
    now_hour = datetime.now(SHANGHAI).hour
    counties = sorted(r[0] for r in _source(gw, "civil", "SELECT DISTINCT region_code "
                                            "FROM dibao_recipients"))  # fmt: skip
    _history(gw, "dora", hour=(now_hour + 12) % 24, counties=["999999"], days=10, per_day=3)
    _history(gw, "arthur", hour=now_hour, counties=counties, days=10, per_day=3)
    _history(gw, "alice", hour=(now_hour + 12) % 24, counties=["999999"], days=3, per_day=1)
    for who in ("dora", "arthur", "alice"):
        body = {**CASE, "fields": ["region_code", "monthly_amount"], "limit": 200}
        resp = gw.query(who, "civil.dibao_recipients", body)
        assert resp.status_code == 200, resp.text

    hours = live.alerts("unusual_hours", lambda a: a["actor"] == "dora")
    places = live.alerts("unusual_counties", lambda a: a["actor"] == "dora")
    assert {a["actor"] for a in hours} == {"dora"}
    assert {a["actor"] for a in places} == {"dora"}
    assert "430" in places[0]["summary"]  # the new counties are named
    assert live.hook.alerts(want=lambda a: a["rule"] == "unusual_counties")[-1]["actor"] == "dora"


def test_a_steward_publishing_below_the_suggested_level(live: Live) -> None:
    """carl drafts two entries; one is published with the ID number at L2 where the
    classifier suggested L3 (from the values), the other as suggested — until carl
    lowers its names to L2 once it is published."""
    gw = live.gw
    carl = gw.headers("carl")
    for name, obj in (("civil.dibao_low", "dibao_recipients"),
                      ("civil.deaths_ok", "death_registrations")):  # fmt: skip
        resp = gw.client.post("/api/v1/datasets", headers=carl,
                              json={"source_id": "civil-db", "object_name": obj,
                                    "dataset_id": name, "title_zh": name})  # fmt: skip
        assert resp.status_code == 201, resp.text
        fields = {f["name"]: f for f in resp.json()["fields"]}
        assert fields["id_number"]["suggested_level"] == "L3"
    resp = gw.client.patch("/api/v1/datasets/civil.dibao_low", headers=carl,
                           json={"fields": {"id_number": {"level": "L2"}}})  # fmt: skip
    assert resp.status_code == 200, resp.text
    for name in ("civil.dibao_low", "civil.deaths_ok"):
        resp = gw.client.post(f"/api/v1/datasets/{name}/publish", headers=carl)
        assert resp.status_code == 200, resp.text

    low = "dataset:civil.dibao_low"
    fired = live.alerts("below_suggested_level", lambda a: a["subject"] == low)
    assert {a["subject"] for a in fired} == {"dataset:civil.dibao_low"}
    assert fired[0]["actor"] == "carl" and "id_number L2 < L3" in fired[0]["summary"]
    # lowering a field of a published entry below its suggestion is the same finding
    resp = gw.client.patch("/api/v1/datasets/civil.deaths_ok", headers=carl,
                           json={"fields": {"name": {"level": "L2"}}})  # fmt: skip
    assert resp.status_code == 200, resp.text
    ok = "dataset:civil.deaths_ok"
    edited = live.alerts("below_suggested_level", lambda a: a["subject"] == ok)
    assert "name L2 < L3" in next(a for a in edited if a["subject"] == ok)["summary"]


def test_emergency_actions_show_on_the_alert_they_answer(live: Live) -> None:
    """The alert answered is one this test raises itself (carl refused again and again),
    so it holds whatever ran before it on this gateway (xdist may split the module)."""
    gw = live.gw
    sam, root = gw.headers("sam"), gw.headers("root")
    for _ in range(8):  # a steward may not query: each try is a denial on record
        resp = gw.query("carl", "civil.dibao_recipients", {**CASE, "limit": 1})
        assert resp.status_code == 403, resp.text
    alert = live.alerts("repeated_denials", lambda a: a["actor"] == "carl")[0]
    body = {"reason": "probing entries he may not query", "alert_id": alert["id"]}
    # an unknown alert: 404 with a message, and nothing changes
    unknown = gw.client.post("/api/v1/users/carl/suspend", headers=sam,
                             json={**body, "alert_id": "0" * 20})  # fmt: skip
    assert unknown.status_code == 404 and "no alert" in unknown.json()["message"], unknown.text
    assert gw.client.get("/api/v1/access-requests", headers=gw.headers("carl")).status_code == 200

    assert gw.client.post("/api/v1/users/carl/suspend", headers=sam, json=body).status_code == 200
    try:
        frozen = gw.client.post(f"/api/v1/datasets/{FROZEN}/freeze", headers=sam, json=body)
        assert frozen.status_code == 200, frozen.text
        revoked = gw.client.post("/api/v1/users/carl/revoke-grants", headers=sam, json=body)
        assert revoked.status_code == 200, revoked.text
    finally:
        lifted = gw.client.post("/api/v1/users/carl/unsuspend", headers=root,
                                json={"reason": "reviewed"})  # fmt: skip
        assert lifted.status_code == 200, lifted.text
        thawed = gw.client.post(f"/api/v1/datasets/{FROZEN}/unfreeze", headers=root,
                                json={"reason": "reviewed"})  # fmt: skip
        assert thawed.status_code == 200, thawed.text
    shown = next(a for a in live.alerts("repeated_denials") if a["id"] == alert["id"])
    assert [(a["action"], a["by"], a["target"]) for a in shown["actions"]] == [
        ("user.suspended", "sam", "user:carl"),
        ("dataset.frozen", "sam", f"dataset:{FROZEN}"),
        ("grants.revoked", "sam", "user:carl"),
    ]
    assert all(a["at"] for a in shown["actions"])


def test_erasing_the_tail_seals_and_the_alert_reaches_the_webhook_and_the_mailbox(
    live: Live,
) -> None:
    """Last in the module: it seals the gateway, then two people unseal it."""
    gw = live.gw
    assert not _status(gw)["sealed"]
    _append(gw, 30)
    _until(lambda: _witnessed_head(gw), "the head is witnessed")
    head = int(_status(gw)["head"]["seq"])
    _insider(gw, f"DELETE FROM audit_events WHERE seq > {head - 5}")
    after = int(_scalar(gw, "SELECT coalesce(max(seq), 0) FROM audit_events"))
    _until(lambda: bool(_status(gw)["sealed"]), "the gateway seals")

    pushed = live.hook.alerts(want=lambda a: a["rule"] == "audit.sealed")
    assert pushed and pushed[-1]["rule"] == "audit.sealed"
    assert pushed[-1]["severity"] == "critical" and "sealed" in pushed[-1]["summary"]
    mails = live.mail.messages(want=lambda m: "audit.sealed" in str(m["Subject"]))
    assert mails and "CRITICAL" in str(mails[-1][2]["Subject"])
    listed = live.alerts("audit.sealed")
    assert listed[0]["id"] == pushed[-1]["id"]
    assert {p["channel"] for p in listed[0]["pushes"]} == {"webhook", "email"}
    _unseal_with_two_people(gw, after)
