"""The masking secret and per-case keys.

``<home>/keys/mask.secret`` holds 32 random bytes (created 0600 on first use). The key
for one case is ``HKDF-SHA256(ikm=secret, salt=b"sluice-mask-v1", info=case_ref)``:
tokens of one case line up across sources and runs (masked keys still join), and tokens
of different cases cannot be linked without the secret.
"""

from __future__ import annotations

import secrets
from pathlib import Path

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from catalog.private_files import create_once, read_private

SECRET_BYTES = 32
HKDF_SALT = b"sluice-mask-v1"


def mask_secret_path(home: Path) -> Path:
    return home / "keys" / "mask.secret"


def load_mask_secret(home: Path) -> bytes:
    """Read the gateway's masking secret, creating it atomically on first use."""
    path = mask_secret_path(home)
    create_once(path, lambda: secrets.token_bytes(SECRET_BYTES), prefix=".mask-")
    secret = read_private(path)
    if len(secret) < SECRET_BYTES:
        raise ValueError(f"{path} is shorter than {SECRET_BYTES} bytes")
    return secret


def derive_case_key(secret: bytes, case_ref: str) -> bytes:
    """The 32-byte HMAC key for tokens of one case."""
    if not case_ref:
        raise ValueError("a case reference is required to derive a masking key")
    hkdf = HKDF(algorithm=hashes.SHA256(), length=32, salt=HKDF_SALT, info=case_ref.encode())
    return hkdf.derive(secret)
