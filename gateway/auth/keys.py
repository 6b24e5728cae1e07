"""The embedded issuer's signing key: loaded from, or created once in, ``SLUICE_HOME``.

The key is an Ed25519 private key stored as PKCS#8 PEM at
``<home>/keys/issuer/signing-key.pem`` with mode 0600 (directories 0700). Its ``kid``
is the RFC 7638 thumbprint of the public JWK, so the id changes whenever the key does
and a verifier never has to trust a name chosen by a token.

Creation is atomic and never clobbers: the PEM is written to a private temporary file
and hard-linked into place, so two processes starting together end up with one key.
"""

from __future__ import annotations

import contextlib
import os
import stat
import tempfile
from dataclasses import dataclass
from pathlib import Path

from joserfc.jwk import OKPKey

ISSUER_KEY_ALG = "EdDSA"
ISSUER_KEY_FILE = "signing-key.pem"


@dataclass(frozen=True)
class SigningKey:
    """A private signing key with the ``kid`` and ``alg`` tokens will carry."""

    key: OKPKey
    kid: str
    alg: str = ISSUER_KEY_ALG

    def public_jwk(self) -> dict[str, str]:
        """The public half as a JWK (no private members), as published in the JWKS."""
        jwk = self.key.as_dict(private=False)
        jwk.update({"kid": self.kid, "alg": self.alg, "use": "sig"})
        return {k: str(v) for k, v in jwk.items()}


def issuer_key_path(home: Path) -> Path:
    return home / "keys" / "issuer" / ISSUER_KEY_FILE


def _signing_key_from_pem(pem: bytes) -> SigningKey:
    key = OKPKey.import_key(pem)
    if not key.is_private or key.curve_name != "Ed25519":
        raise ValueError("issuer signing key must be an Ed25519 private key")
    return SigningKey(key=key, kid=key.thumbprint())


def _read_private_file(path: Path) -> bytes:
    """Read the key, refusing one that other users could read (or replace)."""
    mode = path.stat().st_mode
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise PermissionError(f"{path} is accessible by other users; run: chmod 600 {path}")
    return path.read_bytes()


def load_or_create_signing_key(home: Path) -> SigningKey:
    """Return the embedded issuer's key, generating it on first use."""
    path = issuer_key_path(home)
    if path.exists():
        return _signing_key_from_pem(_read_private_file(path))
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    os.chmod(path.parent, 0o700)
    pem = OKPKey.generate_key("Ed25519", private=True).as_pem(private=True)
    fd, tmp_name = tempfile.mkstemp(dir=path.parent, prefix=".key-")  # mkstemp: mode 0600
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(pem)
            handle.flush()
            os.fsync(handle.fileno())
        with contextlib.suppress(FileExistsError):  # another process won the race
            os.link(tmp_name, path)
    finally:
        os.unlink(tmp_name)
    return _signing_key_from_pem(_read_private_file(path))
