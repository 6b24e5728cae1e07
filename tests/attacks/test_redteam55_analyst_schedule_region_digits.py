"""Red team 55's left row (2), as an analyst: a schedule's county in other digits.

``ScheduleIn.region`` was ``^\\d{6}$``, and pydantic's regex takes ``\\d`` as any Unicode
decimal digit, so a county typed with full-width digits (``４３０１２１``, as a Chinese
input method types them) or Arabic-Indic ones was stored as a schedule: the jurisdiction
check then refused it (no one's jurisdiction is spelt that way) or its runs read no row
(fails closed, but a schedule that can never find anything stood on record as made).
Region codes are ASCII digits everywhere else (the row filter, the demo data, the
jurisdiction list), so the schedule's county is too: 400 naming the field.

On the embedded SQLite default and on PostgreSQL (``deployment``).
"""

from __future__ import annotations

import pytest

from tests.gateway.demo_app import DemoGateway

MODEL = "demo.payroll_on_dibao"


@pytest.mark.parametrize("region", ["４３０１２１", "٤٣٠١٢١", "43012１"])
def test_a_county_in_other_digits_is_refused(deployment: DemoGateway, region: str) -> None:
    gw = deployment
    body = {"region": region, "every": "monthly", "purpose": "supervision",
            "case_ref": "JW-RT55-DIGITS"}  # fmt: skip
    made = gw.client.post(f"/api/v1/comparison-models/{MODEL}/schedules", json=body,
                          headers=gw.headers("dora"))  # fmt: skip
    assert made.status_code == 400, made.text
    assert "region" in made.text
    listed = gw.client.get(f"/api/v1/comparison-models/{MODEL}/schedules",
                           headers=gw.headers("dora"))  # fmt: skip
    assert listed.status_code == 200, listed.text
    assert all(s["region"] != region for s in listed.json()), listed.json()
