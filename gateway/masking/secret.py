"""The masking secret and per-case keys.

``<home>/keys/mask.secret`` holds 32 random bytes (created 0600 on first use). The key
for one case is ``HKDF-SHA256(ikm=secret, salt=b"sluice-mask-v1", info=case_ref)``:
tokens of one case line up across sources and runs (masked keys still join), and tokens
of different cases cannot be linked without the secret.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import stat
import tempfile
from pathlib import Path

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

SECRET_BYTES = 32
HKDF_SALT = b"sluice-mask-v1"


def mask_secret_path(home: Path) -> Path:
    return home / "keys" / "mask.secret"


def load_mask_secret(home: Path) -> bytes:
    """Read the gateway's masking secret, creating it atomically on first use."""
    path = mask_secret_path(home)
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd, tmp_name = tempfile.mkstemp(dir=path.parent, prefix=".mask-")  # mode 0600
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(secrets.token_bytes(SECRET_BYTES))
                handle.flush()
                os.fsync(handle.fileno())
            with contextlib.suppress(FileExistsError):  # another process won the race
                os.link(tmp_name, path)
        finally:
            os.unlink(tmp_name)
    if path.stat().st_mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise PermissionError(f"{path} is accessible by other users; run: chmod 600 {path}")
    secret = path.read_bytes()
    if len(secret) < SECRET_BYTES:
        raise ValueError(f"{path} is shorter than {SECRET_BYTES} bytes")
    return secret


def derive_case_key(secret: bytes, case_ref: str) -> bytes:
    """The 32-byte HMAC key for tokens of one case."""
    if not case_ref:
        raise ValueError("a case reference is required to derive a masking key")
    hkdf = HKDF(algorithm=hashes.SHA256(), length=32, salt=HKDF_SALT, info=case_ref.encode())
    return hkdf.derive(secret)
