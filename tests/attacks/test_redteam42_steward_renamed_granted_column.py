"""Red team 42, as civil's steward (after the source's own administrator renamed a
column): a granted field under a new name is no longer the granted field.

Rule (stop 34, red teams 39 and 41): a field some grant of the caller's releases in
clear is masked for them, outside the grant's case, with tokens of its own
(``plan.granted_field_key``) — so that its clear rows decode no case's tokens. The
rule names the field by name.

Attack: civil and finance mask ID numbers with ``hash``. Civil grants dora the roll's
``id_number``; she reads it in clear. Civil's database administrator then renames the
column (``id_number`` to ``idno``, a schema migration); carl refreshes the entry, which
drops ``id_number`` and adds ``idno`` (the same values), and masks it with ``hash`` as
before. Under another case dora reads the roll's ``idno`` — as that case's tokens, beside
the clear fields — and her earlier clear rows decode them, finance's payroll tokens
under that case with them.

Expected: the same values under a new name decode nothing (the gateway cannot tell a
rename from a column dropped and another added: a granted field gone from the entry
makes every field of it count as granted). On the embedded default and PostgreSQL.
"""

from __future__ import annotations

import sqlite3

from tests.attacks.test_redteam37_analyst_date_shift_codebook import DIBAO, _ok, grant_of_civil
from tests.attacks.test_redteam38_analyst_grant_across_cases import ROW, _rows
from tests.attacks.test_stop34_analyst_grant_token_codebook import (
    PAYROLL,
    hash_both,
    payroll_decoded,
)
from tests.gateway.demo_app import DemoGateway

CASE = "JW-RT42-D"


def _rename(gw: DemoGateway, old: str, new: str) -> None:
    """The civil database's administrator renames a column, then carl refreshes."""
    path = gw.settings.demo_data_dir / "civil.db"
    with sqlite3.connect(path) as conn:
        conn.execute(f"ALTER TABLE dibao_recipients RENAME COLUMN {old} TO {new}")
    _ok(gw.client.post(f"/api/v1/datasets/{DIBAO}/refresh", headers=gw.headers("carl")))


def test_a_renamed_granted_column_decodes_nothing(deployment: DemoGateway) -> None:
    gw = deployment
    hash_both(gw)
    grant_of_civil(gw, "dora", "id_number", f"{CASE}-GRANT")
    clear = _rows(gw, "dora", DIBAO, [*ROW, "id_number"], f"{CASE}-GRANT", "supervision")
    _rename(gw, "id_number", "idno")
    try:
        _ok(gw.client.patch(f"/api/v1/datasets/{DIBAO}", headers=gw.headers("carl"), json={
            "fields": {"idno": {"level": "L3", "mask_override": "hash"}}}))  # fmt: skip
        masked = _rows(gw, "dora", DIBAO, [*ROW, "idno"], CASE, "supervision")
    finally:
        _rename(gw, "idno", "id_number")
    renamed = [{**r, "id_number": r["idno"]} for r in masked]
    decoded, payroll = payroll_decoded(gw, clear, CASE, renamed)
    assert not decoded, (
        f"{len(decoded)} of finance's {len(payroll)} masked ID numbers read in clear "
        "through civil's grant, the granted column renamed"
    )


def test_tokens_read_before_a_rename_still_refuse_the_grant(deployment: DemoGateway) -> None:
    """The other order: alice reads the roll's ``id_number`` as a case's tokens, the
    column is renamed and the entry refreshed, then she asks for ``idno``: refused (409,
    pending), or nothing decoded."""
    gw = deployment
    hash_both(gw)
    case = f"{CASE}-BEFORE"
    masked = _rows(gw, "alice", DIBAO, [*ROW, "id_number"], case, "supervision")
    _rename(gw, "id_number", "idno")
    try:
        _ok(gw.client.patch(f"/api/v1/datasets/{DIBAO}", headers=gw.headers("carl"), json={
            "fields": {"idno": {"level": "L3", "mask_override": "hash"}}}))  # fmt: skip
        asked = _ok(gw.client.post("/api/v1/access-requests", headers=gw.headers("alice"), json={
            "dataset": DIBAO, "fields": ["idno"], "purpose": "supervision",
            "case_ref": f"{case}-GRANT", "justification": "the roll", "days": 7}))  # fmt: skip
        approved = gw.client.post(f"/api/v1/access-requests/{asked['id']}/approve",
                                  headers=gw.headers("carl"), json={})  # fmt: skip
        if approved.status_code == 409:
            state = gw.client.get(f"/api/v1/access-requests/{asked['id']}",
                                  headers=gw.headers("carl"))  # fmt: skip
            assert _ok(state)["status"] == "pending"
            return
        assert approved.status_code == 200, approved.text
        clear = _rows(gw, "alice", DIBAO, [*ROW, "idno"], f"{case}-GRANT", "supervision")
    finally:
        _rename(gw, "idno", "id_number")
    numbers = [{**r, "id_number": r["idno"]} for r in clear]
    codebook: dict[tuple[object, ...], set[str]] = {}
    for row in numbers:
        codebook.setdefault(tuple(row[f] for f in ROW), set()).add(row["id_number"])
    named = [r for r in masked if len(codebook.get(tuple(r[f] for f in ROW), ())) == 1]
    assert not named, f"{len(named)} of the roll's case tokens decoded after the rename"


def test_a_renamed_granted_key_is_refused_not_silently_unmatched(
    deployment: DemoGateway,
) -> None:
    """dora holds the roll's ``id_number`` in clear (her grant); the column is renamed
    and the entry refreshed; she compares the payroll with the roll on the ID numbers
    under another case. Matched, each hit named a payroll row's masked number (the
    roll's clear rows say it); hashed apart (the renamed key as a granted one), the
    comparison answered no hits at all, which reads as "no anomaly". Expected: 403, as
    for any key a grant may release while the other is masked."""
    gw = deployment
    hash_both(gw)
    _ok(gw.client.patch(f"/api/v1/datasets/{DIBAO}", headers=gw.headers("carl"),
                        json={"allowed_purposes": ["supervision", "audit"]}))  # fmt: skip
    grant_of_civil(gw, "dora", "id_number", f"{CASE}-KEY-GRANT")
    _rename(gw, "id_number", "idno")
    try:
        _ok(gw.client.patch(f"/api/v1/datasets/{DIBAO}", headers=gw.headers("carl"), json={
            "fields": {"idno": {"level": "L3", "mask_override": "hash"}}}))  # fmt: skip
        resp = gw.compare("dora", {
            "left": {"dataset": PAYROLL, "key": "id_number", "fields": ["employer"]},
            "right": {"dataset": DIBAO, "key": "idno", "fields": ROW},
            "purpose": "audit", "case_ref": f"{CASE}-KEY", "limit": 10_000})  # fmt: skip
    finally:
        _rename(gw, "idno", "id_number")
    assert resp.status_code == 403, f"{resp.status_code}: {resp.text[:300]}"
