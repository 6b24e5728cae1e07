"""``SecretKeyring``: how source secrets are sealed at rest, as a seam.

Stewardship seals a source's secret when it is registered; enforcement opens it to
connect; the CLI rotates the master key. All of them go through this Protocol so none
depends on where master keys live (files, the environment, later a KMS).
``adapters.credentials.Keyring`` is the implementation (envelope encryption).

Both directions bind the ciphertext to its owner through ``aad``: a ciphertext copied
onto another row does not open.
"""

from __future__ import annotations

from typing import Protocol

from sqlalchemy.orm import Session

from adapters.credentials import RotationReport


class SecretKeyring(Protocol):
    def encrypt(
        self, plaintext: str, *, aad: bytes = b"", session: Session | None = None
    ) -> tuple[bytes, str]:
        """``(ciphertext, data key id)``; pass the request's session so the data key
        commits together with the row that holds the ciphertext."""
        ...

    def decrypt(
        self, ciphertext: bytes, key_id: str, *, aad: bytes = b"", session: Session | None = None
    ) -> str:
        """The secret, or ``catalog.errors.Unavailable`` (never a wrong plaintext)."""
        ...

    def rotate_master(self) -> RotationReport: ...

    def status(self) -> dict[str, int]:
        """How many data keys each master key wraps."""
        ...

    @property
    def current_master_kid(self) -> str: ...
