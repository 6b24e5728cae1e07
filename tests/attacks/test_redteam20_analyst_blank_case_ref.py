"""Red team 20, analyst: a case reference that names no case.

Rule: an L3 or L4 entry is read only for a case ("a case reference is required for L3
and L4 datasets"), every read is on record under its case, and the officers' alert
``missing_case_reference`` flags sensitive reads without one; a grant and a
re-identification ask for a case reference that is not blank.

Attack: alice read the dibao roll's ID numbers, names and phones with ``"case_ref": " "``
— or a tab, a newline, an ideographic space (U+3000), a no-break space, a zero-width
space (U+200B): 200, rows released, the trail's ``case_ref`` "blank but present", so no
``missing_case_reference`` alert; dora's comparisons and model runs the same. A case
reference with no visible character is now no case reference: missing for a query (the
policy refuses L3, 403 ``case_ref_required``), refused with 400 where one is required
(comparisons, runs, schedules, access and re-identification requests).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from catalog.comparison_schedules import ComparisonSchedule
from tests.attacks.test_insider_model_schedule_seals import MODEL
from tests.gateway.comparison_env import ALICE_COUNTY, events
from tests.gateway.demo_app import DemoGateway

BLANKS = [" ", "\t", "\n", "\u3000", "\u00a0", "\u200b", " \u200b\u3000 "]
DIBAO = "civil.dibao_recipients"
COMPARISON = {
    "left": {"dataset": "finance.payroll", "key": "id_number", "fields": ["name"]},
    "right": {"dataset": DIBAO, "key": "id_number"},
    "purpose": "supervision",
}


@pytest.mark.parametrize("blank", BLANKS, ids=[repr(b) for b in BLANKS])
def test_a_blank_case_reference_reads_no_sensitive_entry(
    deployment: DemoGateway, blank: str
) -> None:
    gw = deployment
    body = {"fields": ["id_number", "name", "phone"], "purpose": "supervision",
            "case_ref": blank, "limit": 2}  # fmt: skip
    resp = gw.query("alice", DIBAO, body)
    assert resp.status_code == 403, resp.text
    assert "case reference" in resp.json()["message"], resp.text
    compared = gw.compare("dora", {**COMPARISON, "case_ref": blank})
    assert compared.status_code == 400, compared.text
    run = gw.client.post(f"/api/v1/comparison-models/{MODEL}/runs", headers=gw.headers("dora"),
                         json={"purpose": "supervision", "case_ref": blank})  # fmt: skip
    assert run.status_code == 400, run.text
    asked = gw.client.post("/api/v1/access-requests", headers=gw.headers("alice"), json={
        "dataset": DIBAO, "fields": ["phone"], "purpose": "supervision", "case_ref": blank,
        "justification": "contact", "days": 1})  # fmt: skip
    assert asked.status_code == 400, asked.text


def test_a_case_reference_keeps_its_spelling(deployment: DemoGateway) -> None:
    """A real case reference is used as typed (its tokens are keyed by it)."""
    gw = deployment
    body = {"fields": ["id_number"], "purpose": "supervision", "case_ref": " JW-RT20 ", "limit": 1}
    assert gw.query("alice", DIBAO, body).status_code == 200


def test_a_schedule_stored_with_a_blank_case_is_refused_on_record(deployment: DemoGateway) -> None:
    """A schedule stored before the rule (through the gateway, so sealed) with a blank
    case reference is refused at its trigger, on record, and the schedules due after it
    still run: the clock's tick is not stopped by it."""
    gw = deployment
    now = datetime.now(UTC)
    with gw.services.sessions() as session:
        for sid, case, due in (
            ("cs_rt20blank00001", " ", now - timedelta(hours=2)),
            ("cs_rt20named00001", "JW-RT20", now - timedelta(hours=1)),
        ):
            session.add(ComparisonSchedule(
                id=sid, model_id=MODEL, owner="alice", region=ALICE_COUNTY, every="daily",
                purpose="supervision", case_ref=case, engine=None, next_due_at=due,
                last_run_id=None, created_at=now, deleted_at=None))  # fmt: skip
        session.commit()
    due = gw.client.post("/api/v1/comparison-schedules/run-due", headers=gw.headers("alice"))
    assert due.status_code == 200, due.text
    assert len(due.json()["runs"]) == 1, due.text
    triggers = {e["resource"]: e["details"] for e in events(gw, types=(
        "comparison_schedule.triggered",))}  # fmt: skip
    assert triggers["comparison_schedule:cs_rt20blank00001"]["refused"]["code"] == "bad_request"
    assert "run" in triggers["comparison_schedule:cs_rt20named00001"]
