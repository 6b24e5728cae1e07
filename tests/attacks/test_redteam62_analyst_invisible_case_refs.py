"""Red team 62's left row, as an analyst, against what the security officer reads.

Rule: text a hostile party controls is shown escaped where a person reads it (red teams
59, 61: C0 and C1 controls, line separators and bidi overrides as ``\\uXXXX`` on the
console's pages and on a terminal). Characters that show nothing at all are the same
kind of trick: a zero-width space, a soft hyphen, a byte-order mark, the left-to-right
and right-to-left marks, the Arabic letter mark, the word joiner and the invisible
operators, a Mongolian vowel separator, the tag characters (U+E0000..U+E007F, which
carry whole hidden ASCII strings).

Attack: alice queries under ``JW-62`` and then under look-alikes of it, each holding one
such character (red team 55's look-alike case references: the officer who filters or
reads the trail by case sees one case where there are several, or the hidden text).

Expected: the officer's audit page and ``sluice audit export`` on a terminal show each
such character as ``\\uXXXX``, so every look-alike reads differently from ``JW-62``; the
record keeps the reference as given. On the embedded default and on PostgreSQL.
"""

from __future__ import annotations

import os
from pathlib import Path

from tests.attacks.console_sign_in import console_sign_in
from tests.attacks.deployments import case_refs_fixture
from tests.attacks.pseudo_terminal import on_a_terminal
from tests.gateway.demo_app import DemoGateway

INVISIBLE = ("\u200b", "\u200c", "\u200d", "\u00ad", "\ufeff", "\u200e", "\u200f", "\u061c",
             "\u2060", "\u2064", "\u180e", "\U000e0041", "\u206a", "\ufff9")  # fmt: skip
CASES = [f"JW-6{c}2" for c in INVISIBLE]
ROOT = Path(__file__).resolve().parents[2]


gw = case_refs_fixture("red62_invisible", ["JW-62", *CASES])


def _escaped(c: str) -> str:
    return f"JW-6\\u{ord(c):04x}2" if ord(c) <= 0xFFFF else f"JW-6\\U{ord(c):08x}2"


def _hidden(text: str) -> list[str]:
    return [f"U+{ord(c):04X}" for c in INVISIBLE if c in text]


def test_the_audit_page_shows_each_look_alike_differently(gw: DemoGateway) -> None:
    client, _ = console_sign_in(gw, "sam")
    page = client.get("/console/audit", params={"actor": "alice", "limit": 100})
    assert page.status_code == 200, page.text[:300]
    assert not _hidden(page.text), _hidden(page.text)
    for c in INVISIBLE:
        assert _escaped(c) in page.text, f"U+{ord(c):04X}"


def test_the_export_on_a_terminal_shows_each_look_alike_differently(gw: DemoGateway) -> None:
    env = {**os.environ, "SLUICE_HOME": str(gw.settings.home),
           "SLUICE_DATABASE_URL": gw.settings.resolved_database_url,
           "PYTHONPATH": str(ROOT)}  # fmt: skip
    out = on_a_terminal(["audit", "export", "--format", "csv"], env, timeout=120).decode()
    assert not _hidden(out), _hidden(out)
    for c in INVISIBLE:
        assert _escaped(c) in out, f"U+{ord(c):04X}"


def test_the_record_keeps_the_reference_as_given(gw: DemoGateway) -> None:
    found = gw.client.get("/api/v1/audit/events", params={"case_ref": CASES[0]},
                          headers=gw.headers("sam"))  # fmt: skip
    assert found.status_code == 200, found.text
    assert [e["case_ref"] for e in found.json()["items"]][:1] == [CASES[0]]
