"""``hash``: keyed tokens, ``tk_`` + the first 24 hex digits (96 bits) of
HMAC-SHA256(case key, value as UTF-8).

96 bits keep accidental collisions negligible (birthday bound ~2**48 distinct values)
while keeping tokens short in exports. Non-string values are hashed in their canonical
Arrow string form (``123``, ``1978-05-04``), so an integer key in one source and the same
key as text in another still join.

HMAC per value is unavoidable in Python, so each distinct value is hashed once: Arrow's
dictionary encoding finds the distinct values and ``take`` spreads their tokens back
(no per-row Python; when every value is distinct this costs the same as a memo dict,
and on repetitive columns it is 3-7x faster). The key's inner/outer SHA-256 states are
precomputed and ``copy()``-ed (RFC 2104's HMAC without re-keying per value).
"""

from __future__ import annotations

import hashlib

import pyarrow as pa
import pyarrow.compute as pc

TOKEN_PREFIX = "tk_"  # noqa: S105 (a label, not a secret)
TOKEN_HEX_CHARS = 24
_BLOCK = 64  # SHA-256 block size


class _Hmac:
    """HMAC-SHA256 with the keyed inner and outer states computed once."""

    def __init__(self, key: bytes) -> None:
        if len(key) < 16:
            raise ValueError("masking key too short")
        if len(key) > _BLOCK:
            key = hashlib.sha256(key).digest()
        key = key.ljust(_BLOCK, b"\0")
        self._inner = hashlib.sha256(bytes(b ^ 0x36 for b in key))
        self._outer = hashlib.sha256(bytes(b ^ 0x5C for b in key))

    def token(self, value: bytes) -> str:
        inner = self._inner.copy()
        inner.update(value)
        outer = self._outer.copy()
        outer.update(inner.digest())
        return TOKEN_PREFIX + outer.hexdigest()[:TOKEN_HEX_CHARS]


def hash_token(value: str, key: bytes) -> str:
    """The token of one value (e.g. to compare a filter value with a masked column)."""
    return _Hmac(key).token(value.encode("utf-8"))


def hash_array(values: pa.Array, key: bytes) -> pa.Array:
    """Tokens for a string array; each distinct value is hashed once; nulls stay null."""
    hmac = _Hmac(key)
    encoded = values.dictionary_encode()  # a null value gets a null index
    distinct: list[bytes] = encoded.dictionary.cast(pa.binary()).to_pylist()
    tokens = pa.array([hmac.token(value) for value in distinct], pa.string())
    return pc.take(tokens, encoded.indices)
