"""Direct edits to the audit tables are refused, and bypassing the triggers is caught."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import psycopg
import pytest

from audit.verify import verify_database
from tests.audit.helpers import fill, open_log, tamper


def _verify(log):  # type: ignore[no-untyped-def]
    return verify_database(store=log.store, witness_file=log.witness_file)


def test_untouched_chain_verifies(db_url: str, sluice_home: Path) -> None:
    log = open_log(db_url, sluice_home)
    fill(log, 35)
    log.close()
    outcome = _verify(log)
    assert outcome.ok, outcome
    assert outcome.events == 35
    assert outcome.checkpoints == 4  # 10, 20, 30 and the final one at close


def test_triggers_refuse_update_and_delete(db_url: str, sluice_home: Path) -> None:
    log = open_log(db_url, sluice_home)
    fill(log, 3)
    log.close()
    statements = [
        "UPDATE audit_events SET outcome = 'error' WHERE seq = 2",
        "DELETE FROM audit_events WHERE seq = 3",
        "DELETE FROM audit_checkpoints",
        "UPDATE audit_keys SET public_key = 'x'",
    ]
    for sql in statements:
        if db_url.startswith("sqlite"):
            conn = sqlite3.connect(db_url.removeprefix("sqlite:///"))
            with pytest.raises(sqlite3.IntegrityError, match="append-only"):
                conn.execute(sql)
            conn.close()
        else:
            with (
                psycopg.connect(db_url.replace("+psycopg", "")) as conn,
                pytest.raises(psycopg.errors.RaiseException, match="append-only"),
            ):
                conn.execute(sql)
    assert _verify(log).ok


TAMPERING = {
    "edit body": (
        ["UPDATE audit_events SET body = replace(body, '\"rows\":7', '\"rows\":0') WHERE seq = 8"],
        8,
        "hash mismatch",
    ),
    "edit indexed column": (
        ["UPDATE audit_events SET actor_sub = 'someone-else' WHERE seq = 13"],
        13,
        "index mismatch",
    ),
    "delete a row": (["DELETE FROM audit_events WHERE seq = 17"], 17, "gap"),
    "reorder two rows": (
        [
            "UPDATE audit_events SET seq = -1 WHERE seq = 5",
            "UPDATE audit_events SET seq = 5 WHERE seq = 6",
            "UPDATE audit_events SET seq = 6 WHERE seq = -1",
        ],
        5,
        "hash mismatch",
    ),
    "insert a row": (
        [
            "UPDATE audit_events SET seq = seq + 1000 WHERE seq >= 12",
            "UPDATE audit_events SET seq = seq - 999 WHERE seq >= 1012",
            "INSERT INTO audit_events (seq, prev_hash, hash, body, mac, ts, type, actor_sub, "
            "actor_dept, resource, resource_dept, outcome, purpose, case_ref, decision_allow) "
            "SELECT 12, prev_hash, hash, body, mac, ts, type, actor_sub, "
            "actor_dept, resource, resource_dept, outcome, purpose, case_ref, decision_allow "
            "FROM audit_events WHERE seq = 11",
        ],
        12,
        "hash mismatch",
    ),
    # the event MAC (audit.signing.EventMac): only the gateways' key makes it
    "strip a MAC": (["UPDATE audit_events SET mac = NULL WHERE seq = 9"], 9, "mac missing"),
    "wrong MAC": (["UPDATE audit_events SET mac = hash WHERE seq = 9"], 9, "mac mismatch"),
    "MAC of another event": (
        [
            "UPDATE audit_events SET mac = (SELECT mac FROM audit_events WHERE seq = 3) "
            "WHERE seq = 4"
        ],
        4,
        "mac mismatch",
    ),
    "delete the last events": (["DELETE FROM audit_events WHERE seq > 21"], 22, "truncated"),
    "delete last events and their checkpoints": (
        ["DELETE FROM audit_events WHERE seq > 15", "DELETE FROM audit_checkpoints WHERE seq > 15"],
        16,
        "truncated",
    ),
    "delete a checkpoint": (
        ["DELETE FROM audit_checkpoints WHERE seq = 20"],
        20,
        "missing checkpoint",
    ),
}


@pytest.mark.parametrize("case", sorted(TAMPERING))
def test_tampering_names_the_first_bad_seq(case: str, db_url: str, sluice_home: Path) -> None:
    statements, bad_seq, reason = TAMPERING[case]
    log = open_log(db_url, sluice_home)
    fill(log, 25)
    log.close()
    tamper(db_url, *statements)
    outcome = _verify(log)
    assert not outcome.ok
    assert (outcome.first_bad_seq, outcome.reason) == (bad_seq, reason), outcome


def test_rewritten_chain_is_caught_by_checkpoints(sluice_home: Path, tmp_path: Path) -> None:
    """An insider who recomputes every hash after an edit breaks the edited event's MAC;
    and, for a verifier without the MAC key, still the signatures."""
    import hashlib

    import orjson

    from audit.canonical import canonical_json

    url = f"sqlite:///{tmp_path / 'rewrite.db'}"
    log = open_log(url, sluice_home)
    fill(log, 25)
    log.close()
    conn = sqlite3.connect(tmp_path / "rewrite.db")
    rows = conn.execute("SELECT seq, prev_hash, body FROM audit_events ORDER BY seq").fetchall()
    prev = rows[0][1]
    statements = []
    for seq, _old_prev, body in rows:
        event = orjson.loads(body)
        if seq == 4:
            event["rows"] = 0
        data = canonical_json(event)
        new = hashlib.sha256(bytes.fromhex(prev) + data).hexdigest()
        text = data.decode().replace("'", "''")
        statements.append(
            f"UPDATE audit_events SET body = '{text}', prev_hash = '{prev}', hash = '{new}' "
            f"WHERE seq = {seq}"
        )
        prev = new
    conn.close()
    tamper(url, *statements)
    outcome = _verify(log)
    assert (outcome.ok, outcome.first_bad_seq, outcome.reason) == (False, 4, "mac mismatch")
    log.store.event_mac = None  # a verifier that does not hold the key
    outcome = _verify(log)
    assert (outcome.ok, outcome.first_bad_seq, outcome.reason) == (
        False,
        10,
        "checkpoint mismatch",
    )


def test_forged_checkpoint_signature_is_caught(db_url: str, sluice_home: Path) -> None:
    log = open_log(db_url, sluice_home)
    fill(log, 25)
    log.close()
    tamper(
        db_url,
        "UPDATE audit_checkpoints SET signature = 'AAAA' || substr(signature, 5) WHERE seq = 20",
    )
    outcome = _verify(log)
    assert (outcome.first_bad_seq, outcome.reason) == (20, "bad signature"), outcome


def test_range_verification(db_url: str, sluice_home: Path) -> None:
    log = open_log(db_url, sluice_home)
    fill(log, 30)
    log.close()
    tamper(db_url, "DELETE FROM audit_events WHERE seq = 25")
    part = verify_database(store=log.store, witness_file=log.witness_file, from_seq=5, to_seq=20)
    assert part.ok and part.events == 16 and part.checkpoints == 2
    whole = verify_database(store=log.store, witness_file=log.witness_file, from_seq=5)
    assert (whole.first_bad_seq, whole.reason) == (25, "gap")
