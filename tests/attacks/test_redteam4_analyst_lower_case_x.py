"""Red team 4, as an analyst (and the officer who audits them): a source's spelling of X.

A resident ID number's check digit may be ``X``; one department's system stores it in
lower case (``11010519491231002x``), the others in upper case. Comparison keys and the
"who looked up whom" subject tokens are HMAC tokens of the value *as stored*, so the
same person had two tokens: a comparison of payroll (lower case) against the dibao
recipients (upper case) silently missed every such person — "no anomaly" for people
drawing both — and an officer's search for their lookups (which spells the number
canonically, upper case) found neither the queries that pulled them nor the comparison.

Rule: one person, one token, whatever a source's spelling — tokens are made of the
canonical spelling in the one tokenising function
(``gateway.enforcement.masking.tokens``).
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.attacks.deployments import KINDS, open_deployment
from tests.gateway.demo_app import DemoGateway

PAYROLL = "finance.payroll"
DIBAO = "civil.dibao_recipients"
CASE = {"purpose": "supervision", "case_ref": "JW-RT4-X"}
COMPARISON: dict[str, Any] = {
    "left": {"dataset": PAYROLL, "key": "id_number", "fields": ["name"]},
    "right": {
        "dataset": DIBAO, "key": "id_number", "fields": ["monthly_amount"],
        "where": [{"field": "status", "op": "=", "value": "active"}],
    },
    **CASE,
}  # fmt: skip


def _matched(data: Path) -> list[str]:
    """The people on active dibao who draw a salary, as the sources hold them (joined
    here in Python: SQLite's join on ``upper()`` of both sides used no index, 13 s)."""
    finance, civil = sqlite3.connect(data / "finance.db"), sqlite3.connect(data / "civil.db")
    try:
        active = {r[0].upper() for r in civil.execute(
            "SELECT id_number FROM dibao_recipients WHERE status = 'active'")}  # fmt: skip
        numbers = {r[0] for r in finance.execute("SELECT id_number FROM payroll")}
        return sorted(n for n in numbers if n.upper() in active)
    finally:
        finance.close()
        civil.close()


def _lower_case_x_in_payroll(data: Path) -> None:
    """The finance department's system stores the check digit in lower case."""
    db = sqlite3.connect(data / "finance.db")
    try:
        db.execute("UPDATE payroll SET id_number = lower(id_number) WHERE id_number LIKE '%X'")
        db.commit()
    finally:
        db.close()


@pytest.fixture(scope="module", params=KINDS)
def gw(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
       ) -> Iterator[DemoGateway]:  # fmt: skip
    home = tmp_path_factory.mktemp(f"rt4-x-{request.param}")
    with open_deployment(request.param, home, db_prefix="sluice_rt4_x") as gw:
        _lower_case_x_in_payroll(gw.settings.demo_data_dir)
        yield gw


def _lookups(gw: DemoGateway, id_number: str) -> dict[str, Any]:
    answer = gw.client.post("/api/v1/audit/lookups", json={"id_number": id_number},
                            headers=gw.headers("sam"))  # fmt: skip
    assert answer.status_code == 200, answer.text
    return dict(answer.json())


def _found(gw: DemoGateway, id_number: str, etype: str, request_id: str) -> bool:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        items = _lookups(gw, id_number)["items"]
        if any(e["type"] == etype and (e.get("request_id") or "").startswith(request_id)
               for e in items):  # fmt: skip
            return True
        time.sleep(0.2)
    return False


def test_the_same_person_matches_across_spellings_of_x(gw: DemoGateway) -> None:
    matched = _matched(gw.settings.demo_data_dir)
    lower = [n for n in matched if n.endswith("x")]
    assert lower, "the demo plants matched people whose check digit is X"
    answer = gw.compare("dora", COMPARISON)
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["row_count"] == len(matched), (body["row_count"], matched)
    # the officer's search, typed in upper case, finds the comparison that matched them
    request_id = answer.headers["X-Request-Id"]
    for number in lower:
        assert _found(gw, number.upper(), "comparison.completed", request_id), number


def _where_they_work(data: Path, id_number: str) -> list[dict[str, str]]:
    db = sqlite3.connect(data / "finance.db")
    try:
        employer, position = db.execute("SELECT employer, position FROM payroll WHERE "
                                        "id_number = ?", (id_number,)).fetchone()  # fmt: skip
    finally:
        db.close()
    return [{"field": "employer", "op": "=", "value": employer},
            {"field": "position", "op": "=", "value": position}]  # fmt: skip


def test_who_looked_up_whom_finds_a_lower_case_x_record(gw: DemoGateway) -> None:
    """A plain query of the lower-case source: its record names the person by the token
    the officer's search computes from the number as typed (either spelling)."""
    data = gw.settings.demo_data_dir
    lower = next(n for n in _matched(data) if n.endswith("x"))
    pulled = gw.query("dora", PAYROLL, {**CASE, "fields": ["name", "id_number"],
                                        "where": _where_they_work(data, lower)})  # fmt: skip
    assert pulled.status_code == 200, pulled.text
    assert pulled.json()["row_count"] >= 1, pulled.text
    request_id = pulled.headers["X-Request-Id"]
    assert _found(gw, lower.upper(), "query.completed", request_id)
    assert _found(gw, lower, "query.completed", request_id)
