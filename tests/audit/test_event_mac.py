"""Event MACs on a trail upgraded from before them, and the writer refusing forgeries.

A deployment upgraded from a version without MACs has MAC-less events below its first
MAC'd one: those verify as before (hash chain and signed checkpoints). From the first
MAC'd event on, a MAC-less event is a forgery: an insider cannot add a legacy-looking
event later. The key is derived from a secret file in the home, never in the database;
there is no rotation of it (see docs/deploy.md).
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import orjson
import pytest
from click.testing import CliRunner

from audit.events import prepare
from audit.log import AuditLog
from audit.signing import EventMac, KeyRing, mac_secret_path
from audit.store import ROW_COLUMNS
from audit.verify import verify_database
from catalog.errors import Unavailable
from gateway.cli.audit_cmd import audit
from tests.audit.helpers import event, fill, open_log


def _verify(log: AuditLog) -> Any:
    return verify_database(store=log.store, witness_file=log.witness_file)


def _rows(log: AuditLog) -> list[tuple[Any, ...]]:
    conn = log.store.connect(reader=True)
    try:
        return log.store.fetch_all(
            conn, f"SELECT {','.join(ROW_COLUMNS)} FROM audit_events ORDER BY seq"
        )
    finally:
        conn.close()


def _append_behind(log: AuditLog, mac: str | None) -> int:
    """An insider's INSERT at the head, chained correctly (no trigger bypassed)."""
    seq, head = _rows(log)[-1][0], _rows(log)[-1][2]
    prepared = prepare(event(99, case_ref="FORGED"))
    data = prepared.canonical(seq + 1)
    digest = hashlib.sha256(bytes.fromhex(head) + data).hexdigest()
    row = (seq + 1, head, digest, data.decode(), mac, *prepared.index)
    store = log.store
    conn = store.connect()
    try:
        marks = ",".join([store.p] * len(ROW_COLUMNS))
        cur = conn.cursor()
        cur.execute(f"INSERT INTO audit_events ({','.join(ROW_COLUMNS)}) VALUES ({marks})", row)
        if store.dialect == "postgresql":  # SQLite's connection autocommits
            conn.commit()
    finally:
        conn.close()
    return int(seq + 1)


def _legacy_then_upgraded(db_url: str, home: Path) -> AuditLog:
    """Five events by a gateway from before MACs, then five by an upgraded one."""
    legacy = open_log(db_url, home, signer=KeyRing(home / "legacy-keys"))
    assert legacy.store.event_mac is None  # a key ring outside a home: no MAC key
    fill(legacy, 5)
    legacy.close()
    log = open_log(db_url, home)
    fill(log, 5)
    return log


def test_events_before_the_upgrade_verify_and_new_ones_carry_macs(
    db_url: str, sluice_home: Path
) -> None:
    log = _legacy_then_upgraded(db_url, sluice_home)
    log.close()
    macs = [row[4] for row in _rows(log)]
    assert macs[:5] == [None] * 5 and all(len(m) == 64 for m in macs[5:])
    outcome = _verify(log)
    assert outcome.ok and outcome.events == 10, outcome


def test_a_mac_less_event_after_the_boundary_is_a_forgery(db_url: str, sluice_home: Path) -> None:
    """The legacy shape is not a way in: after the first MAC'd event, none may lack one."""
    log = _legacy_then_upgraded(db_url, sluice_home)
    try:
        forged = _append_behind(log, None)
        outcome = _verify(log)
        assert (outcome.ok, outcome.first_bad_seq, outcome.reason) == (
            False,
            forged,
            "mac missing",
        )
        # the writer will not chain onto it: it seals instead
        with pytest.raises(Unavailable):
            log.append(event(100))
        assert log.seal.sealed and "mac missing" in (log.seal.reason or "")
    finally:
        log.close()
    assert _rows(log)[-1][0] == forged  # nothing written on top


def test_a_wrong_mac_after_the_boundary_is_a_forgery(db_url: str, sluice_home: Path) -> None:
    log = _legacy_then_upgraded(db_url, sluice_home)
    log.close()
    forged = _append_behind(log, "0" * 64)
    outcome = _verify(log)
    assert (outcome.ok, outcome.first_bad_seq, outcome.reason) == (False, forged, "mac mismatch")


def test_another_deployments_key_does_not_verify(db_url: str, sluice_home: Path) -> None:
    """The same trail checked with another deployment's key: its first MAC'd event fails
    (a trail, or an event, moved between deployments does not verify)."""
    log = open_log(db_url, sluice_home)
    fill(log, 3)
    log.close()
    assert _verify(log).ok
    log.store.event_mac = EventMac.from_secret(b"another deployment's secret bytes")
    outcome = _verify(log)
    assert (outcome.ok, outcome.first_bad_seq, outcome.reason) == (False, 1, "mac mismatch")


def test_the_key_is_derived_not_stored(db_url: str, sluice_home: Path) -> None:
    """The key is not the secret file's bytes, appears nowhere in the database, and the
    secret file is private."""
    log = open_log(db_url, sluice_home)
    fill(log, 2)
    log.close()
    secret = mac_secret_path(sluice_home).read_bytes()
    key = EventMac.in_home(sluice_home).key
    assert key != secret[:32] and len(key) == 32
    assert mac_secret_path(sluice_home).stat().st_mode & 0o077 == 0
    dump = repr(_rows(log))
    assert key.hex() not in dump and secret.hex() not in dump
    assert "secret" in repr(log.store.event_mac) and key.hex() not in repr(log.store.event_mac)


def test_cli_verify_names_the_forged_seq_and_seals(
    db_url: str, sluice_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``sluice audit verify`` gets the key the way the gateway does (its home): a
    MAC-less event at the head fails with its seq, and seals."""
    log = open_log(db_url, sluice_home)
    fill(log, 4)
    log.close()
    forged = _append_behind(log, None)
    monkeypatch.setenv("SLUICE_HOME", str(sluice_home))
    monkeypatch.setenv("SLUICE_DATABASE_URL", db_url)
    result = CliRunner().invoke(audit, ["verify"])
    assert result.exit_code == 1, result.output
    answer = orjson.loads(next(x for x in result.stdout.splitlines() if x.startswith("{")))
    assert (answer["first_bad_seq"], answer["reason"]) == (forged, "mac missing"), answer
    assert answer["sealed"] is True
    assert _rows(log)[-1][0] == forged  # no audit.verified written onto the forgery
