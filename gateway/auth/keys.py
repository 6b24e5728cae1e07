"""The embedded issuer's signing key: loaded from, or created once in, ``SLUICE_HOME``.

The key is an Ed25519 private key stored as PKCS#8 PEM at
``<home>/keys/issuer/signing-key.pem`` with mode 0600 (directories 0700). Its ``kid``
is the RFC 7638 thumbprint of the public JWK, so the id changes whenever the key does
and a verifier never has to trust a name chosen by a token.

Creation is atomic and never clobbers (``catalog.private_files``): two processes starting
together end up with one key.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from joserfc.jwk import OKPKey

from catalog.private_files import create_once, private_dir, read_private

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


def load_or_create_signing_key(home: Path) -> SigningKey:
    """Return the embedded issuer's key, generating it on first use."""
    path = issuer_key_path(home)
    if not path.exists():
        private_dir(path.parent)
        os.chmod(path.parent, 0o700)
        create_once(
            path,
            lambda: OKPKey.generate_key("Ed25519", private=True).as_pem(private=True),
            prefix=".key-",
        )
    return _signing_key_from_pem(read_private(path))
