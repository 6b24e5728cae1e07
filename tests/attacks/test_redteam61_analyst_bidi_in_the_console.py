"""Red team 61's left row, as an analyst (or a steward), against what the console shows.

Rule: text a hostile party controls is shown escaped where a person reads it (red team
59, 61: the terminal escapes C0 and C1 controls, line separators and bidi overrides).
The console escapes HTML (autoescape), but a right-to-left override (U+202E) or an
isolate is not HTML: the browser honours it, and the text after it in its cell is shown
reversed, so what the officer reads is not what is on record.

Attack: alice queries with a case reference holding a right-to-left override, an 8-bit
CSI (U+009B, invisible in a page) and a first-strong isolate; dora saves a comparison
model whose name holds an override. The security officer reads the audit page and the
event's page; dora reads the comparisons page.

Expected: every such character is shown as ``\\uXXXX`` (as the terminal shows it), on
every page, on the embedded default and on PostgreSQL; the stored value is unchanged.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from audit.search import EventFilter, list_events
from tests.attacks.console_sign_in import console_sign_in
from tests.attacks.deployments import KINDS, open_deployment
from tests.gateway.demo_app import DemoGateway

CASE = "JW-61\u202eFDP.exe\u009b\u2068-B"
RAW = ("\u202e", "\u009b", "\u2068")
MODEL = {"id": "test.rt61_bidi", "name": {"zh": "比对\u202eevil", "en": "Match\u202eevil"},
         "sides": [{"alias": "p", "dataset": "finance.payroll"},
                   {"alias": "d", "dataset": "civil.dibao_recipients"}],
         "joins": [{"left": "p", "left_key": "id_number", "right": "d",
                    "right_key": "id_number"}],
         "output": ["d.region_code"]}  # fmt: skip


@pytest.fixture(scope="module", params=KINDS)
def gw(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
       ) -> Iterator[DemoGateway]:  # fmt: skip
    home = tmp_path_factory.mktemp(f"red61-bidi-{request.param}")
    with open_deployment(request.param, home, db_prefix="sluice_red61_bidi") as gateway:
        body = {"purpose": "supervision", "case_ref": CASE, "limit": 1}
        resp = gateway.query("alice", "civil.dibao_recipients", body)
        assert resp.status_code == 200, resp.text
        saved = gateway.client.post("/api/v1/comparison-models", json=MODEL,
                                    headers=gateway.headers("dora"))  # fmt: skip
        assert saved.status_code == 201, saved.text
        yield gateway


def _shown_escaped(html: str, needle: str) -> None:
    assert not [c for c in RAW if c in html], [hex(ord(c)) for c in RAW if c in html]
    assert needle in html, needle


def test_the_audit_pages_show_a_case_reference_s_controls_escaped(gw: DemoGateway) -> None:
    client, _ = console_sign_in(gw, "sam")
    listed = client.get("/console/audit", params={"actor": "alice"})
    assert listed.status_code == 200, listed.text[:300]
    _shown_escaped(listed.text, "JW-61\\u202eFDP.exe\\u009b\\u2068-B")
    found = list_events(store=gw.services.audit.store, filters=EventFilter(case_ref=CASE),
                        limit=1, order="asc")  # fmt: skip
    seq = found["items"][0]["seq"]  # the query's own event, as recorded
    event = client.get(f"/console/audit/events/{seq}")
    assert event.status_code == 200, event.text[:300]
    _shown_escaped(event.text, "JW-61\\u202eFDP.exe")


def test_the_comparisons_page_shows_a_model_name_s_controls_escaped(gw: DemoGateway) -> None:
    client, _ = console_sign_in(gw, "dora")
    page = client.get("/console/comparisons")
    assert page.status_code == 200, page.text[:300]
    _shown_escaped(page.text, "evil")
    assert "\\u202eevil" in page.text
    stored = gw.client.get("/api/v1/comparison-models/test.rt61_bidi", headers=gw.headers("dora"))
    assert stored.json()["name"]["en"] == "Match\u202eevil"  # the record keeps it as given
