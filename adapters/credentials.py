"""Envelope encryption of source secrets (passwords, tokens, URLs with passwords).

Why envelopes: each secret is sealed (AES-256-GCM) under its own random *data key*;
data keys are stored only *wrapped* (AES-256-GCM) by a *master key* that never
touches the database. Rotating the master key therefore re-wraps a few 32-byte keys
and never re-encrypts or re-reads a secret.

Master keys, each with a key id (kid):

- ``SLUICE_MASTER_KEY`` (``settings.master_key``): if it is standard or URL-safe
  base64 of exactly 32 bytes those bytes are the key; any other string is run
  through HKDF-SHA256 (fixed salt) to 32 bytes. HKDF does not stretch a weak
  passphrase: use ``openssl rand -base64 32``. Its kid is ``env-`` + a fingerprint.
- ``SLUICE_MASTER_KEY_PREVIOUS`` (``settings.master_key_previous``): the secret
  manager's key before its rotation, read (never current) until no data key is
  wrapped by it.
- files ``<home>/keys/master/<kid>.key`` (base64, mode 0600), created when no key
  exists and by every rotation of a deployment without ``SLUICE_MASTER_KEY``.

The *current* master (used to wrap new data keys) is the env key when it is set —
whatever the pointer file says — else the one the pointer file
``<home>/keys/master/current`` names, else a new file key. Without an env key,
rotation (``rotate_master``) writes a new file key, points ``current`` at it, then
re-wraps every data key one by one. Order matters: the pointer moves first so no new
key is wrapped by the old master, and the old master stays on disk, so every read
keeps working during and after rotation (other processes re-read the pointer and
load unknown key files on demand). Deleting an old master file afterwards is the
operator's call once ``status()`` shows no data key under it.

With an env key, rotation never writes a key into the home: the operator puts the new
key in the secret manager as ``SLUICE_MASTER_KEY`` and the old one as
``SLUICE_MASTER_KEY_PREVIOUS``, and rotation re-wraps every data key under the env key.
A rotation that wrote a file key there (as it once did) left the secret manager's key
wrapping nothing: a copy of the home and a catalog dump opened every source's
credentials (red team 56). A rotation with nothing to re-wrap is refused with how to
rotate (``NothingToRotate``): the env key cannot be replaced from here.

Associated data binds a ciphertext to its owner (the source id): a ciphertext copied
onto another source row does not decrypt.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
import secrets
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from pydantic import SecretStr
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session, sessionmaker

from adapters.key_models import DataKey
from catalog.errors import Conflict, Unavailable
from catalog.models import utcnow
from catalog.private_files import KEY_BYTES, private_dir, read_own, replace_private

_VERSION = b"\x01"
_NONCE = 12
_HKDF_SALT = b"sluice/master-key/v1"
_SECRET_AAD = b"sluice/secret/v1|"
_DATA_KEY_AAD = b"sluice/data-key/v1|"

NOTHING_TO_ROTATE = (
    "SLUICE_MASTER_KEY is the current master key and already wraps every data key; a "
    "rotation never writes a key into SLUICE_HOME while it is set. To rotate it: put the "
    "new key in SLUICE_MASTER_KEY and the old one in SLUICE_MASTER_KEY_PREVIOUS on every "
    "replica, restart them, run `sluice keys rotate` again, then remove "
    "SLUICE_MASTER_KEY_PREVIOUS once `sluice keys status` shows no data key under it "
    "(docs/deploy.md, Keys)"
)


def derive_master_key(value: str) -> bytes:
    """32 key bytes from ``SLUICE_MASTER_KEY``: base64 of 32 bytes as is, else HKDF."""
    text = value.strip()
    for decode in (base64.b64decode, base64.urlsafe_b64decode):
        try:
            raw = decode(text.encode("ascii"))
        except (binascii.Error, ValueError, UnicodeEncodeError):
            continue
        if len(raw) == 32:
            return raw
    hkdf = HKDF(algorithm=hashes.SHA256(), length=32, salt=_HKDF_SALT, info=b"sluice master key")
    return hkdf.derive(value.encode("utf-8"))


def fingerprint(key: bytes) -> str:
    """A short, non-reversible name for a key (never the key itself)."""
    return hashlib.sha256(b"sluice/kid|" + key).hexdigest()[:16]


def env_kid(key: bytes) -> str:
    """The key id of a master key given in the environment (``SLUICE_MASTER_KEY``,
    ``SLUICE_MASTER_KEY_PREVIOUS``), from its 32 bytes (``derive_master_key``)."""
    return f"env-{fingerprint(key)}"


class NothingToRotate(Conflict):
    """A rotation of a deployment whose current master key is the secret manager's, with
    every data key wrapped by it already: its new key must come from the secret manager."""

    code = "nothing_to_rotate"


class MasterKeyProvider(Protocol):
    """Where master keys live; swap for a KMS/HSM without touching ``Keyring``."""

    def current_kid(self) -> str: ...

    def next_current(self) -> str: ...

    def get(self, kid: str) -> bytes: ...

    def create(self) -> str: ...

    def set_current(self, kid: str) -> None: ...


class FileMasterKeys:
    """Master keys in ``<home>/keys/master`` plus the optional env key (see module doc)."""

    def __init__(
        self, directory: Path, env_key: SecretStr | None = None,
        previous_env_key: SecretStr | None = None,
    ) -> None:  # fmt: skip
        self._dir = directory
        self._keys: dict[str, bytes] = {}
        self._lock = threading.Lock()
        self._env_kid = self._remember(env_key)
        self._remember(previous_env_key)  # read while data keys are re-wrapped, never current

    def _remember(self, secret: SecretStr | None) -> str | None:
        if secret is None or not secret.get_secret_value():
            return None
        key = derive_master_key(secret.get_secret_value())
        kid = env_kid(key)
        self._keys[kid] = key
        return kid

    @property
    def _pointer(self) -> Path:
        return self._dir / "current"

    def current_kid(self) -> str:
        if self._env_kid is not None:  # the secret manager's, set: a pointer does not decide
            return self._env_kid
        kid = self._pointed()
        if kid is not None:
            return kid
        with self._lock:
            if self._pointed() is None:
                self.set_current(self.create())
        return self._pointed() or ""

    def _pointed(self) -> str | None:
        """The kid ``current`` names, None without one; never read through a link nor
        from a FIFO (``read_own``: root's CLI reads it too)."""
        try:
            return read_own(self._pointer, limit=KEY_BYTES).decode("ascii").strip()
        except FileNotFoundError:
            return None

    def get(self, kid: str) -> bytes:
        key = self._keys.get(kid)
        if key is not None:
            return key
        path = self._dir / f"{kid}.key"
        try:
            if "/" in kid or kid.startswith("."):
                raise FileNotFoundError(kid)
            key = base64.b64decode(read_own(path, limit=KEY_BYTES).strip())
        except FileNotFoundError:
            raise Unavailable(
                f"master key {kid!r} is not available; data keys under it cannot be read"
            ) from None
        if len(key) != 32:
            raise Unavailable(f"master key file for {kid!r} does not hold 32 bytes")
        self._keys[kid] = key
        return key

    def create(self) -> str:
        """Write a new random master key file (0600, never overwritten); return its kid."""
        private_dir(self._dir)
        kid = f"mk-{secrets.token_hex(8)}"
        key = AESGCM.generate_key(bit_length=256)
        fd = os.open(self._dir / f"{kid}.key", os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as handle:
            handle.write(base64.b64encode(key) + b"\n")
            handle.flush()
            os.fsync(handle.fileno())
        self._keys[kid] = key
        return kid

    def set_current(self, kid: str) -> None:
        self.get(kid)  # refuse to point at a key we cannot load
        replace_private(self._pointer, (kid + "\n").encode("ascii"))

    def next_current(self) -> str:
        """The key a rotation re-wraps under, current from now on: the env key when it is
        set (nothing written into the home: see the module doc), else a new file key."""
        if self._env_kid is not None:
            return self._env_kid
        kid = self.create()
        self.set_current(kid)
        return kid


@dataclass(frozen=True)
class RotationReport:
    master_kid: str
    previous_kid: str  # current before the rotation: the new env key itself when it is set
    rewrapped: int
    # the master keys the data keys were re-wrapped from: the retired ones, which a
    # rotation through the secret manager names nowhere else (red team 57)
    rewrapped_from: tuple[str, ...] = ()


def _seal(key: bytes, plaintext: bytes, aad: bytes) -> bytes:
    nonce = os.urandom(_NONCE)
    return _VERSION + nonce + AESGCM(key).encrypt(nonce, plaintext, aad)


def _open(key: bytes, blob: bytes, aad: bytes) -> bytes:
    if len(blob) < 1 + _NONCE + 16 or blob[:1] != _VERSION:
        raise InvalidTag()
    return AESGCM(key).decrypt(blob[1 : 1 + _NONCE], blob[1 + _NONCE :], aad)


class Keyring:
    """Seals and opens secrets; one fresh data key per secret (``encrypt``)."""

    def __init__(self, masters: MasterKeyProvider, sessions: sessionmaker[Session]) -> None:
        self._masters = masters
        self._sessions = sessions
        self._data_keys: dict[str, bytes] = {}  # unwrapped cache; unchanged by rotation
        self._rotate_lock = threading.Lock()

    def encrypt(
        self, plaintext: str, *, aad: bytes = b"", session: Session | None = None
    ) -> tuple[bytes, str]:
        """Return (ciphertext incl. nonce, data key id). Pass the request's ``session``
        so the data key commits (or not) together with the row holding the ciphertext."""
        kid = self._masters.current_kid()
        data_key = AESGCM.generate_key(bit_length=256)
        key_id = f"dk-{secrets.token_hex(12)}"
        wrapped = _seal(self._masters.get(kid), data_key, _DATA_KEY_AAD + key_id.encode())
        row = DataKey(id=key_id, wrapped=wrapped, master_kid=kid, created_at=utcnow())
        if session is not None:
            session.add(row)
            session.flush()
        else:
            with self._sessions.begin() as own:
                own.add(row)
        self._data_keys[key_id] = data_key
        ciphertext = _seal(data_key, plaintext.encode("utf-8"), _SECRET_AAD + aad)
        return ciphertext, key_id

    def decrypt(
        self, ciphertext: bytes, key_id: str, *, aad: bytes = b"", session: Session | None = None
    ) -> str:
        """Open a secret; raises ``Unavailable`` (never the secret) if it cannot."""
        data_key = self._data_key(key_id, session)
        try:
            return _open(data_key, bytes(ciphertext), _SECRET_AAD + aad).decode("utf-8")
        except InvalidTag:
            raise Unavailable(
                f"stored secret under data key {key_id} failed authentication "
                "(tampered, or bound to another owner)"
            ) from None

    def _data_key(self, key_id: str, session: Session | None) -> bytes:
        cached = self._data_keys.get(key_id)
        if cached is not None:
            return cached
        if session is not None:
            row = session.get(DataKey, key_id)
        else:
            with self._sessions() as own:
                row = own.get(DataKey, key_id)
        if row is None:
            raise Unavailable(f"data key {key_id} does not exist")
        try:
            key = _open(
                self._masters.get(row.master_kid), row.wrapped, _DATA_KEY_AAD + key_id.encode()
            )
        except InvalidTag:
            raise Unavailable(f"data key {key_id} failed authentication under its master") from None
        self._data_keys[key_id] = key
        return key

    def rotate_master(self) -> RotationReport:
        """New master key, made current, then every data key re-wrapped under it (see
        module doc for why this order keeps reads working)."""
        with self._rotate_lock:
            previous = self._masters.current_kid()
            new_kid = self._masters.next_current()
            new_key = self._masters.get(new_kid)
            count, retired = 0, set[str]()
            while True:
                with self._sessions() as session:
                    rows = session.execute(
                        select(DataKey.id, DataKey.wrapped, DataKey.master_kid)
                        .where(DataKey.master_kid != new_kid)
                        .limit(100)
                    ).all()
                if not rows:
                    if count == 0 and new_kid == previous:
                        raise NothingToRotate(NOTHING_TO_ROTATE)
                    return RotationReport(
                        master_kid=new_kid,
                        previous_kid=previous,
                        rewrapped=count,
                        rewrapped_from=tuple(sorted(retired)),
                    )
                for key_id, wrapped, old_kid in rows:
                    aad = _DATA_KEY_AAD + key_id.encode()
                    try:
                        plain = _open(self._masters.get(old_kid), wrapped, aad)
                    except InvalidTag:
                        raise Unavailable(f"data key {key_id} cannot be unwrapped") from None
                    with self._sessions.begin() as session:
                        # compare-and-set: a concurrent rotation may have re-wrapped it
                        session.execute(
                            update(DataKey)
                            .where(DataKey.id == key_id, DataKey.master_kid == old_kid)
                            .values(
                                wrapped=_seal(new_key, plain, aad),
                                master_kid=new_kid,
                                rewrapped_at=utcnow(),
                            )
                        )
                    count += 1
                    retired.add(old_kid)

    def status(self) -> dict[str, int]:
        """How many data keys each master key wraps (``current`` flagged by the CLI)."""
        with self._sessions() as session:
            rows = session.execute(
                select(DataKey.master_kid, func.count()).group_by(DataKey.master_kid)
            ).all()
        return {kid: int(n) for kid, n in rows}

    @property
    def current_master_kid(self) -> str:
        return self._masters.current_kid()


class _HasKeySettings(Protocol):
    home: Path
    master_key: SecretStr | None
    master_key_previous: SecretStr | None


def build_keyring(settings: _HasKeySettings, sessions: sessionmaker[Session]) -> Keyring:
    """The default keyring: file/env master keys under ``<home>/keys/master``."""
    directory = Path(settings.home) / "keys" / "master"
    masters = FileMasterKeys(directory, settings.master_key, settings.master_key_previous)
    return Keyring(masters, sessions)
