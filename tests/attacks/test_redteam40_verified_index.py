"""Red team 40's fix under attack: the approval checks' index of the verified chain.

The approval checks (``read_tokens``, ``compared_keys``) no longer search the trail by
its index columns: they read an index (``audit.follow``) fed, in seq order, with every
body whose link, hash and MAC verified. An insider of the audit database (the
append-only triggers off) tries to blind it as red team 40 blinded the search: dora read
the dibao roll's ID numbers as a case's tokens and asks for them in clear; the insider
then edits or removes her ``query.started`` before civil approves.

Expected: never approved. A row removed, or a body edited, where the index has not read
yet (a gateway process started since, or rows appended since its last check) refuses
the approval as unavailable (503: the trail does not verify there), and the request
stays pending; once the row is back the approval is refused as red team 39's (409, the
field named). A row the index already read stays read. Columns edited before a fresh
process's first read change nothing. On the embedded default and PostgreSQL.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from httpx import Response

from audit.search import EventFilter, iter_bodies
from gateway.stewardship.grants.trail_facts import approval_facts
from tests.attacks.test_insider_audit import _insider
from tests.attacks.test_redteam39_analyst_tokens_before_grant import tokens_read_then_asked
from tests.gateway.demo_app import DemoGateway


def test_a_read_removed_before_the_index_read_it_refuses(deployment: DemoGateway) -> None:
    gw = deployment
    asked = _asked(gw, "JW-RT40-GONE")
    seqs = _dora_reads(gw, "JW-RT40-GONE")
    gw.services.audit.followers.forget()  # a gateway process started since the read
    out = [f"UPDATE audit_events SET seq = -seq WHERE seq = {s}" for s in seqs]  # below seq 1
    back = [f"UPDATE audit_events SET seq = -seq WHERE seq = {-s}" for s in seqs]
    with _tampered(gw, *out, back=back):
        refused = _approve(gw, asked)
    _unavailable(gw, refused, asked)
    _named(_approve(gw, asked))  # the row back: the chain verifies, and the read is found


def test_a_read_removed_after_the_index_read_it_still_refuses(deployment: DemoGateway) -> None:
    gw = deployment
    asked = _asked(gw, "JW-RT40-KNOWN")
    seqs = _dora_reads(gw, "JW-RT40-KNOWN")
    with approval_facts(gw.services.audit):  # another approval's check read the trail
        pass
    with _tampered(gw, *(f"DELETE FROM audit_events WHERE seq = {s}" for s in seqs),
                   back=_put_back(gw, seqs)):  # fmt: skip
        _named(_approve(gw, asked))


def test_an_edited_body_refuses(deployment: DemoGateway) -> None:
    gw = deployment
    asked = _asked(gw, "JW-RT40-BODY")
    seqs = _dora_reads(gw, "JW-RT40-BODY")
    gw.services.audit.followers.forget()
    edit, undo = ('"sub":"dora"', '"sub":"d0ra"'), ('"sub":"d0ra"', '"sub":"dora"')
    with _tampered(gw, *(_replace(s, *edit) for s in seqs),
                   back=[_replace(s, *undo) for s in seqs]):  # fmt: skip
        refused = _approve(gw, asked)
    _unavailable(gw, refused, asked)
    _named(_approve(gw, asked))


def test_columns_edited_before_a_fresh_processs_first_read_change_nothing(
    deployment: DemoGateway,
) -> None:
    gw = deployment
    asked = _asked(gw, "JW-RT40-COLUMNS")
    seqs = _dora_reads(gw, "JW-RT40-COLUMNS")
    gw.services.audit.followers.forget()
    marks = ",".join(str(s) for s in seqs)
    with _tampered(gw, "UPDATE audit_events SET actor_sub = 'd0ra', type = 'query.completed', "
                       f"resource = 'dataset:elsewhere' WHERE seq IN ({marks})",
                   back=_put_back(gw, seqs)):  # fmt: skip
        _named(_approve(gw, asked))


def _asked(gw: DemoGateway, case: str) -> str:
    """dora reads the roll's ID numbers as ``case``'s tokens and asks for them in clear."""
    _masked, asked = tokens_read_then_asked(gw, case, case + "-GRANT")
    return str(asked["id"])


def _approve(gw: DemoGateway, asked: str) -> Response:
    return gw.client.post(f"/api/v1/access-requests/{asked}/approve",
                          headers=gw.headers("carl"), json={})  # fmt: skip


def _named(response: Response) -> None:
    """Refused as red team 39's approval is: 409, the field named."""
    assert response.status_code == 409, response.text[:300]
    assert "id_number" in response.json()["message"], response.text[:300]


def _unavailable(gw: DemoGateway, response: Response, asked: str) -> None:
    """Refused while the chain does not verify where the index reads: 503, pending."""
    assert response.status_code == 503, response.text[:300]
    assert "does not verify" in response.json()["message"], response.text[:300]
    state = gw.client.get(f"/api/v1/access-requests/{asked}", headers=gw.headers("carl"))
    assert state.json()["status"] == "pending", state.text[:300]


def _dora_reads(gw: DemoGateway, case: str) -> list[int]:
    """The seqs of dora's ``query.started`` events under ``case``, as written."""
    found = iter_bodies(store=gw.services.audit.store, filters=EventFilter(
        actor="dora", type="query.started", case_ref=case))  # fmt: skip
    assert found, "dora's read is on the trail"
    return [int(e["seq"]) for e in found]


def _replace(seq: int, old: str, new: str) -> str:
    return f"UPDATE audit_events SET body = replace(body, '{old}', '{new}') WHERE seq = {seq}"


def _put_back(gw: DemoGateway, seqs: list[int]) -> list[str]:
    """Statements writing the rows at ``seqs`` back as they are now, whole."""
    store = gw.services.audit.store
    marks = ",".join(str(s) for s in seqs)
    with store.reading() as conn:
        rows = store.fetch_all(conn, f"SELECT * FROM audit_events WHERE seq IN ({marks})")
    out = [f"DELETE FROM audit_events WHERE seq IN ({marks})"]
    for row in rows:
        values = ",".join(_literal(v) for v in row)
        out.append(f"INSERT INTO audit_events VALUES ({values})")
    return out


def _literal(value: object) -> str:
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, int):
        return str(value)
    return "'" + str(value).replace("'", "''") + "'"


@contextmanager
def _tampered(gw: DemoGateway, *statements: str, back: list[str]) -> Iterator[None]:
    """The insider's statements for as long as the block runs, then ``back``: the chain
    verifies again after. The monitor's sweep is held meanwhile, as on a trail long
    enough that its window is elsewhere (red team 40's ``_hidden``)."""
    monitor = gw.services.audit.monitor
    monitor.stop()
    _insider(gw, *statements)
    try:
        yield
    finally:
        _insider(gw, *back)
        monitor._stop.clear()
        monitor.start()
