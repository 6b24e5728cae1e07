"""Envelope encryption: roundtrip, binding, rotation, key files, no plaintext at rest."""

from __future__ import annotations

import base64
import stat
from pathlib import Path

import pytest
from pydantic import SecretStr
from sqlalchemy import select
from sqlalchemy.orm import Session

from adapters.credentials import (
    FileMasterKeys,
    Keyring,
    NothingToRotate,
    build_keyring,
    derive_master_key,
)
from adapters.key_models import DataKey
from catalog.db import make_engine, make_session_factory, migrate
from catalog.errors import Unavailable
from gateway.core.settings import load_settings
from tests.migrated import copy_migrated_sqlite

SECRET = "pa55-Wörd!fin_reader"


def _keyring(home: Path, master_key: str | None = None, previous: str | None = None) -> Keyring:
    url = f"sqlite:///{home / 'catalog.db'}"
    if not (home / "catalog.db").exists():
        copy_migrated_sqlite(home / "catalog.db")  # the migrations once per process
    migrate(url)  # a no-op on the copy (and on a fresh process's second look)
    settings = load_settings(
        home=home,
        master_key=SecretStr(master_key) if master_key else None,
        master_key_previous=SecretStr(previous) if previous else None,
    )
    return build_keyring(settings, make_session_factory(make_engine(url)))


def test_roundtrip_and_no_plaintext_at_rest(sluice_home: Path) -> None:
    keyring = _keyring(sluice_home)
    ciphertext, key_id = keyring.encrypt(SECRET, aad=b"fin-payroll")
    assert SECRET.encode() not in ciphertext
    assert keyring.decrypt(ciphertext, key_id, aad=b"fin-payroll") == SECRET
    # a fresh process (no cache) reads it back through the wrapped data key
    again = _keyring(sluice_home)
    assert again.decrypt(ciphertext, key_id, aad=b"fin-payroll") == SECRET
    database = (sluice_home / "catalog.db").read_bytes()
    assert SECRET.encode() not in database


def test_wrong_aad_or_tampering_fails_without_leaking(sluice_home: Path) -> None:
    keyring = _keyring(sluice_home)
    ciphertext, key_id = keyring.encrypt(SECRET, aad=b"fin-payroll")
    with pytest.raises(Unavailable) as wrong:
        keyring.decrypt(ciphertext, key_id, aad=b"civil-registry")
    assert SECRET not in str(wrong.value)
    tampered = ciphertext[:-1] + bytes([ciphertext[-1] ^ 1])
    with pytest.raises(Unavailable):
        keyring.decrypt(tampered, key_id, aad=b"fin-payroll")


def test_master_key_file_is_0600(sluice_home: Path) -> None:
    keyring = _keyring(sluice_home)
    keyring.encrypt(SECRET)
    files = list((sluice_home / "keys" / "master").glob("*.key"))
    assert len(files) == 1
    assert stat.S_IMODE(files[0].stat().st_mode) == 0o600
    assert stat.S_IMODE(files[0].parent.stat().st_mode) == 0o700


def test_rotate_rewraps_and_old_ciphertexts_still_decrypt(sluice_home: Path) -> None:
    keyring = _keyring(sluice_home)
    sealed = [keyring.encrypt(f"{SECRET}-{i}", aad=str(i).encode()) for i in range(3)]
    old_kid = keyring.current_master_kid
    report = keyring.rotate_master()
    assert report.previous_kid == old_kid
    assert report.master_kid != old_kid
    assert report.rewrapped == 3
    assert keyring.status() == {report.master_kid: 3}
    # a new process that never saw the old wrapping decrypts every secret
    fresh = _keyring(sluice_home)
    assert fresh.current_master_kid == report.master_kid
    for i, (ciphertext, key_id) in enumerate(sealed):
        assert fresh.decrypt(ciphertext, key_id, aad=str(i).encode()) == f"{SECRET}-{i}"
    # new secrets are wrapped by the new master
    _, new_id = fresh.encrypt("later")
    with fresh_session(sluice_home) as session:
        kids = set(session.scalars(select(DataKey.master_kid)))
        assert session.get(DataKey, new_id) is not None
    assert kids == {report.master_kid}


def fresh_session(home: Path) -> Session:
    return make_session_factory(make_engine(f"sqlite:///{home / 'catalog.db'}"))()


def test_env_master_key_base64_and_passphrase(sluice_home: Path) -> None:
    raw = bytes(range(32))
    assert derive_master_key(base64.b64encode(raw).decode()) == raw
    derived = derive_master_key("a long operator passphrase that is not base64")
    assert len(derived) == 32 and derived != raw
    keyring = _keyring(sluice_home, base64.b64encode(raw).decode())
    assert keyring.current_master_kid.startswith("env-")
    ciphertext, key_id = keyring.encrypt(SECRET, aad=b"x")
    assert not (sluice_home / "keys" / "master").exists()  # nothing written to disk
    # with the env key current and wrapping everything, a rotation has no new key to take
    with pytest.raises(NothingToRotate, match="SLUICE_MASTER_KEY_PREVIOUS"):
        keyring.rotate_master()
    assert not (sluice_home / "keys" / "master").exists()  # still nothing in the home
    assert (
        _keyring(sluice_home, base64.b64encode(raw).decode()).decrypt(ciphertext, key_id, aad=b"x")
        == SECRET
    )


def test_env_master_key_rotates_through_the_secret_manager(sluice_home: Path) -> None:
    """The new key in SLUICE_MASTER_KEY, the old in SLUICE_MASTER_KEY_PREVIOUS: every data
    key re-wrapped under the new one, nothing written into the home (red team 56)."""
    old, new = "the secret manager's first key, long enough", "its second key, also long"
    ciphertext, key_id = _keyring(sluice_home, old).encrypt(SECRET, aad=b"x")
    rotating = _keyring(sluice_home, new, previous=old)
    report = rotating.rotate_master()
    assert report.rewrapped == 1 and report.master_kid == rotating.current_master_kid
    assert report.previous_kid == report.master_kid  # the env key was current already
    assert not (sluice_home / "keys" / "master").exists()
    assert _keyring(sluice_home, new).decrypt(ciphertext, key_id, aad=b"x") == SECRET
    with pytest.raises(Unavailable, match="master key"):
        _keyring(sluice_home, old).decrypt(ciphertext, key_id, aad=b"x")


def test_env_master_key_is_current_over_a_home_pointer(sluice_home: Path) -> None:
    """A deployment that rotated into a home key file (as rotation once did) wraps new
    data keys under the env key again, and its next rotation moves the rest there."""
    in_home = _keyring(sluice_home)  # no env key: a key file, pointed at as current
    ciphertext, key_id = in_home.encrypt(SECRET)
    assert (sluice_home / "keys" / "master" / "current").exists()
    env = _keyring(sluice_home, "the secret manager's key, long enough here")
    assert env.current_master_kid.startswith("env-")
    assert env.rotate_master().rewrapped == 1
    with pytest.raises(Unavailable, match="master key"):
        _keyring(sluice_home).decrypt(ciphertext, key_id)  # the home alone opens nothing


def test_missing_master_key_is_a_clear_error(sluice_home: Path) -> None:
    keyring = _keyring(sluice_home, "first passphrase, long enough to be a key")
    ciphertext, key_id = keyring.encrypt(SECRET)
    other = _keyring(sluice_home, "another passphrase entirely, also long")
    with pytest.raises(Unavailable, match="master key"):
        other.decrypt(ciphertext, key_id)
    assert isinstance(FileMasterKeys(sluice_home / "k").current_kid(), str)
