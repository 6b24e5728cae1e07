"""``mac_states``: HMAC-SHA256 from precomputed keyed states is ``hmac.digest``."""

from __future__ import annotations

import hmac

from hypothesis import given, settings
from hypothesis import strategies as st

from audit.signing import event_mac, mac_states


def _mac(key: bytes, message: bytes) -> bytes:
    inner, outer = mac_states(key)
    inner, outer = inner.copy(), outer.copy()
    inner.update(message)
    outer.update(inner.digest())
    return outer.digest()


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=130), st.binary(max_size=200))
def test_states_give_hmac_sha256_for_any_key_and_message(key: bytes, message: bytes) -> None:
    """Keys shorter than, equal to and longer than SHA-256's 64-byte block."""
    assert _mac(key, message) == hmac.digest(key, message, "sha256")


@given(st.binary(min_size=32, max_size=32), st.integers(0, 2**63 - 1), st.binary(min_size=32,
       max_size=32))  # fmt: skip
def test_states_give_the_event_mac(key: bytes, seq: int, hash_raw: bytes) -> None:
    assert _mac(key, seq.to_bytes(8, "big") + hash_raw).hex() == event_mac(key, seq, hash_raw)


def test_the_states_are_reused_not_consumed() -> None:
    key = bytes(range(32))
    inner, outer = mac_states(key)
    for message in (b"a", b"b", b"a"):
        one, two = inner.copy(), outer.copy()
        one.update(message)
        two.update(one.digest())
        assert two.digest() == hmac.digest(key, message, "sha256")
