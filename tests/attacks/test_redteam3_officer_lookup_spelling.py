"""Red team 3, as a security officer: "who looked up whom" for an ID number as written.

A resident ID number's check digit may be ``X``, and people write it ``x``, or in
groups with spaces (``430121 19900101 123X``). The gateway records a user's own ID
number (``PUT /api/v1/admin/users/{subject}/id-number``) spelled canonically — spaces
removed, upper case — but ``POST /api/v1/audit/lookups`` hashed the number exactly as
typed (only the ends stripped): the officer who types the lower-case ``x`` or the
grouped form gets another token and an empty answer, "no one looked this person up",
though an analyst pulled their record minutes before.

Rule broken: the search for one person's lookups must find every recorded lookup of
them, whatever the spelling of the same number (ATTACKS.md: identity of a target,
"another spelling").
"""

from __future__ import annotations

import time
from typing import Any

from sqlalchemy import create_engine, text

from catalog.models import Dataset, Source
from tests.gateway.demo_app import DemoGateway

DIBAO = "civil.dibao_recipients"
QUERY = {"purpose": "supervision", "case_ref": "JW-2026-001", "fields": ["name", "id_number"],
         "limit": 200}  # fmt: skip


def _a_number_ending_in_x(gw: DemoGateway) -> str:
    """A raw ID number with the check digit X among the source's first 200 rows."""
    with gw.services.sessions() as session:
        dataset = session.get(Dataset, DIBAO)
        assert dataset is not None
        source = session.get(Source, dataset.source_id)
        assert source is not None
        url = source.settings["url"]
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            found = conn.execute(text(
                "SELECT id_number FROM (SELECT id_number FROM dibao_recipients ORDER BY rowid "
                "LIMIT 200) WHERE id_number LIKE '%X' LIMIT 1"
            )).scalar_one()  # fmt: skip
    finally:
        engine.dispose()
    return str(found)


def _lookups(gw: DemoGateway, typed: str) -> dict[str, Any]:
    answer = gw.client.post("/api/v1/audit/lookups", headers=gw.headers("sam"),
                            json={"id_number": typed})  # fmt: skip
    assert answer.status_code == 200, answer.text
    return dict(answer.json())


def test_the_lookups_of_a_number_are_found_however_it_is_typed(deployment: DemoGateway) -> None:
    gw = deployment
    number = _a_number_ending_in_x(gw)
    pulled = gw.query("dora", DIBAO, QUERY)
    assert pulled.status_code == 200, pulled.text
    deadline = time.monotonic() + 20
    while not (canonical := _lookups(gw, number))["items"]:
        assert time.monotonic() < deadline, "dora's query never showed as a lookup"
        time.sleep(0.2)
    grouped = f"{number[:6]} {number[6:14]} {number[14:]}"
    for typed in (number.lower(), grouped, grouped.lower(), f" {number[:-1]}x "):
        found = _lookups(gw, typed)
        assert found["subject_token"] == canonical["subject_token"], typed
        assert [e["seq"] for e in found["items"]][: len(canonical["items"])] == [
            e["seq"] for e in canonical["items"]
        ][: len(found["items"])], typed
        assert found["items"], typed
