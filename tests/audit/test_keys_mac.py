"""Key rows carry a MAC (red team 5, insider-published keys): only keys a gateway of
this deployment vouches for are published, exported, or verify checkpoints.

The runtime role may append to ``audit_keys``. A row it appends has no valid MAC (the
key is derived from a secret file, never in the database), so it is neither published
at ``GET /api/v1/audit/keys`` nor put in an export's key list, and a checkpoint it signs
above the first MAC'd event is an unknown kid. Rows from before the upgrade: the
gateway's own (its ring holds the private half) stay published; another ring's verify
only checkpoints below the first MAC'd event, which the event chain fixes.
"""

from __future__ import annotations

from pathlib import Path

import orjson

from audit.export import export_stream
from audit.log import AuditLog, public_keys
from audit.signing import (
    EventMac,
    KeyRing,
    checkpoint_payload,
    key_row_mac,
)
from audit.verify import verify_database
from tests.audit.helpers import fill, open_log


def _insert_key(log: AuditLog, ring: KeyRing, mac: str | None) -> str:
    kid, public = next(iter(ring.public_keys().items()))
    conn = log.store.connect()
    try:
        p = log.store.p
        conn.cursor().execute(
            f"INSERT INTO audit_keys (kid, algorithm, public_key, created_at, mac) "
            f"VALUES ({p}, 'Ed25519', {p}, '2020-01-01T00:00:00.000000Z', {p})",
            (kid, public, mac),
        )
        conn.commit()
    finally:
        conn.close()
    return kid


def _published(log: AuditLog) -> set[str]:
    return {k["kid"] for k in public_keys(log.store)}


def _exported(log: AuditLog) -> set[str]:
    lines = b"".join(export_stream(store=log.store, signer=log.signer)).splitlines()  # type: ignore[arg-type]
    return {r["kid"] for r in map(orjson.loads, lines) if r.get("kind") == "key"}


def test_rows_the_gateway_writes_carry_a_mac_that_checks(db_url: str, sluice_home: Path) -> None:
    log = open_log(db_url, sluice_home)
    try:
        conn = log.store.connect(reader=True)
        rows = log.store.fetch_all(conn, "SELECT kid, algorithm, public_key, mac FROM audit_keys")
        conn.close()
        assert rows and log.store.event_mac is not None
        for kid, algorithm, public, mac in rows:
            assert mac == key_row_mac(log.store.event_mac.key, kid, algorithm, public)
        assert _published(log) == {r[0] for r in rows} == _exported(log)
    finally:
        log.close()


def test_a_key_with_a_made_up_or_foreign_mac_is_not_published(
    db_url: str, sluice_home: Path, tmp_path: Path
) -> None:
    log = open_log(db_url, sluice_home)
    try:
        before = _published(log)
        made_up = _insert_key(log, KeyRing(tmp_path / "a"), "00" * 32)
        other = EventMac.from_secret(b"another deployment's secret, 32+ bytes long")
        ring = KeyRing(tmp_path / "b")
        kid_b, pub_b = next(iter(ring.public_keys().items()))
        foreign = _insert_key(log, ring, other.key_tag(kid_b, "Ed25519", pub_b))
        missing = _insert_key(log, KeyRing(tmp_path / "c"), None)
        assert _published(log) == before == _exported(log)
        assert {made_up, foreign, missing}.isdisjoint(_published(log))
    finally:
        log.close()


def test_a_checkpoint_signed_with_an_insiders_key_is_an_unknown_kid(
    db_url: str, sluice_home: Path, tmp_path: Path
) -> None:
    """The insider's key row is MAC-less and above the first MAC'd event: it verifies
    nothing, so a checkpoint of theirs is evidence, not a second signer."""
    log = open_log(db_url, sluice_home)
    fill(log, 25)
    log.close()
    insider = KeyRing(tmp_path / "insider")
    kid = _insert_key(log, insider, None)
    conn = log.store.connect(reader=True)
    seq, hash_hex = log.store.fetch_all(conn, "SELECT seq, hash FROM audit_events WHERE seq = 23")[
        0
    ]
    conn.close()
    ts = "2026-01-01T00:00:00.000000Z"
    sig = insider.sign(checkpoint_payload(seq=seq, hash_hex=hash_hex, ts=ts, kid=kid))
    conn = log.store.connect()  # an append, as the runtime role may
    try:
        p = log.store.p
        conn.cursor().execute(
            f"INSERT INTO audit_checkpoints (seq, hash, ts, kid, signature) "
            f"VALUES ({p}, {p}, {p}, {p}, {p})",
            (seq, hash_hex, ts, kid, sig),
        )
        conn.commit()
    finally:
        conn.close()
    outcome = verify_database(store=log.store, witness_file=log.witness_file)
    assert (outcome.ok, outcome.first_bad_seq, outcome.reason) == (False, 23, "unknown key")


def _legacy(db_url: str, home: Path, ring: KeyRing) -> AuditLog:
    """A gateway from before MACs (no MAC key): its key row and events carry none."""
    legacy = open_log(db_url, home, signer=ring)
    assert legacy.store.event_mac is None
    fill(legacy, 5)
    legacy.close()
    return legacy


def test_a_replicas_key_from_before_the_upgrade_verifies_old_checkpoints_only(
    db_url: str, sluice_home: Path
) -> None:
    old = KeyRing(sluice_home / "legacy-keys")
    _legacy(db_url, sluice_home, old)
    log = open_log(db_url, sluice_home)
    try:
        fill(log, 5)
        assert old.kid not in _published(log)  # no gateway vouches for it any more
        outcome = verify_database(store=log.store, witness_file=log.witness_file)
        assert outcome.ok and outcome.events == 10, outcome
    finally:
        log.close()


def test_the_gateways_own_key_from_before_the_upgrade_stays_published(
    db_url: str, sluice_home: Path
) -> None:
    """The same ring, upgraded: its MAC-less row cannot get a MAC (append-only), but the
    ring holds the private half, so it vouches for it; it rotates to a MAC'd key, so other
    replicas verify its new checkpoints."""
    ring = KeyRing(sluice_home / "keys" / "audit")
    _legacy(db_url, sluice_home, ring)
    log = open_log(db_url, sluice_home)
    try:
        fill(log, 5)
        old = ring.kid  # the active key before the upgrade
        assert old != log.signer.kid  # it signs with a MAC'd key from now on
        assert {old, log.signer.kid} <= _published(log) & _exported(log)
        outcome = verify_database(store=log.store, witness_file=log.witness_file)
        assert outcome.ok, outcome
    finally:
        log.close()
