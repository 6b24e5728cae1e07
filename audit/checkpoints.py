"""Checking signed checkpoints and published keys (database, witness file, export).

A checkpoint ``(seq, hash, ts, kid)`` signed with Ed25519 pins the chain at ``seq``:
rewriting history before it needs the private key. Key ids are fingerprints, so a
published key whose bytes do not match its id is itself a failure.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from audit.chain import Failure
from audit.signing import checkpoint_payload, kid_for, unb64, verify_signature

CHECKPOINT_KEYS = ("seq", "hash", "ts", "kid", "signature")


def check_keys(keys: Mapping[str, str]) -> list[str]:
    """Key ids whose public key does not hash to the id (a substituted key)."""
    bad = []
    for kid, public in keys.items():
        try:
            ok = kid_for(unb64(public)) == kid
        except (ValueError, TypeError):
            ok = False
        if not ok:
            bad.append(kid)
    return bad


def check_signature(cp: Mapping[str, Any], keys: Mapping[str, str]) -> Failure | None:
    seq = int(cp["seq"])
    public = keys.get(cp["kid"])
    if public is None:
        return Failure(seq, "unknown key", f"checkpoint signed by unpublished key {cp['kid']}")
    payload = checkpoint_payload(seq=seq, hash_hex=cp["hash"], ts=cp["ts"], kid=cp["kid"])
    if not verify_signature(public, payload, cp["signature"]):
        return Failure(seq, "bad signature", f"checkpoint signature does not verify ({cp['kid']})")
    return None


def check_against_chain(
    checkpoints: Iterable[Mapping[str, Any]], hashes_at: Mapping[int, str], verified_to: int
) -> list[Failure]:
    """Each checkpoint the chain reached must carry the chain's hash at its seq."""
    out = []
    for cp in checkpoints:
        seq = int(cp["seq"])
        if seq > verified_to:
            continue
        if hashes_at.get(seq) != cp["hash"]:
            out.append(Failure(seq, "checkpoint mismatch", "chain hash differs from checkpoint"))
    return out
