"""Ed25519 signing keys for checkpoints: on disk in ``<home>/keys/audit``, rotatable.

Each private key lives in ``<kid>.pem`` (mode 0600); ``current`` names the active one.
The key id is a fingerprint of the public key (``ed25519-`` + 16 hex of its SHA-256),
so a verifier that pins key ids cannot be fooled by a substituted public key. Old keys
stay on disk and in the ``audit_keys`` table so old checkpoints keep verifying.
"""

from __future__ import annotations

import base64
import hashlib
import os
import threading
from pathlib import Path
from typing import Any, Protocol

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from audit.canonical import canonical_json
from catalog.private_files import private_dir, replace_private

ALGORITHM = "Ed25519"


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode("ascii").rstrip("=")


def unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def kid_for(public_raw: bytes) -> str:
    """The key id is the public key's fingerprint: self-certifying."""
    return "ed25519-" + hashlib.sha256(public_raw).hexdigest()[:16]


def _raw_public(key: Ed25519PrivateKey) -> bytes:
    return key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def checkpoint_payload(*, seq: int, hash_hex: str, ts: str, kid: str) -> bytes:
    """What a checkpoint signature covers; the kid is inside, so it cannot be swapped."""
    return canonical_json({"seq": seq, "hash": hash_hex, "ts": ts, "kid": kid})


def verify_signature(public_b64: str, payload: bytes, signature_b64: str) -> bool:
    """True only for a valid signature; malformed keys or signatures are simply invalid."""
    try:
        key = Ed25519PublicKey.from_public_bytes(unb64(public_b64))
        key.verify(unb64(signature_b64), payload)
    except (InvalidSignature, ValueError, TypeError):
        return False
    return True


class Signer(Protocol):
    """What the writer needs to sign checkpoints; tests may pass their own."""

    @property
    def kid(self) -> str: ...

    def sign(self, payload: bytes) -> str: ...

    def public_keys(self) -> dict[str, str]: ...


class KeyRing:
    """The process's audit signing keys, loaded from (or created in) one directory."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self._lock = threading.Lock()
        self._keys: dict[str, Ed25519PrivateKey] = {}
        self._active = ""
        self._load()

    @classmethod
    def in_home(cls, home: Path) -> KeyRing:
        return cls(home / "keys" / "audit")

    def _load(self) -> None:
        private_dir(self.directory)
        for path in sorted(self.directory.glob("ed25519-*.pem")):
            key = serialization.load_pem_private_key(path.read_bytes(), password=None)
            if not isinstance(key, Ed25519PrivateKey):
                raise ValueError(f"{path} is not an Ed25519 key")
            self._keys[kid_for(_raw_public(key))] = key
        current = self.directory / "current"
        active = current.read_text().strip() if current.exists() else ""
        if active in self._keys:
            self._active = active
        else:
            self.rotate()

    @property
    def kid(self) -> str:
        return self._active

    def sign(self, payload: bytes) -> str:
        with self._lock:
            key = self._keys[self._active]
        return b64(key.sign(payload))

    def public_keys(self) -> dict[str, str]:
        """Every key this ring holds, old ones included: kid -> base64url raw public key."""
        with self._lock:
            return {kid: b64(_raw_public(key)) for kid, key in self._keys.items()}

    def rotate(self) -> str:
        """Create a new key, make it active, keep the old ones for verification."""
        key = Ed25519PrivateKey.generate()
        kid = kid_for(_raw_public(key))
        pem = key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        path = self.directory / f"{kid}.pem"
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as handle:
            handle.write(pem)
            handle.flush()
            os.fsync(handle.fileno())
        replace_private(self.directory / "current", (kid + "\n").encode())
        with self._lock:
            self._keys[kid] = key
            self._active = kid
        return kid


def describe_keys(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Public key records as published at ``GET /api/v1/audit/keys``."""
    return [
        {
            "kid": r["kid"],
            "algorithm": r.get("algorithm", ALGORITHM),
            "public_key": r["public_key"],
            "created_at": r.get("created_at"),
        }
        for r in rows
    ]
