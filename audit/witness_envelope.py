"""The envelope a sender signs around each checkpoint it hands to a witness.

The checkpoint, the sender's name, its epoch and the key id, signed with the audit key,
so that a witness can pin the key on first use and no one can replay a genuine
checkpoint under another name or epoch. One home for the format, below both the
senders (``audit.witness_client``, ``audit.witness_nats``) and the readers
(``audit.witness_book``, ``audit.monitor``), so none of them imports another to learn
it.
"""

from __future__ import annotations

from typing import Any

from audit.canonical import canonical_json
from audit.signing import Signer, checkpoint_payload, verify_signature


def envelope_payload(*, sender: str, epoch: int, checkpoint: dict[str, Any], kid: str) -> bytes:
    """What the envelope signature covers."""
    return canonical_json({"sender": sender, "epoch": epoch, "checkpoint": checkpoint, "kid": kid})


def make_envelope(
    *, sender: str, epoch: int, checkpoint: dict[str, Any], signer: Signer
) -> dict[str, Any]:
    cp = {k: checkpoint[k] for k in ("seq", "hash", "ts", "kid", "signature")}
    kid = signer.kid
    payload = envelope_payload(sender=sender, epoch=epoch, checkpoint=cp, kid=kid)
    return {
        "sender": sender,
        "epoch": epoch,
        "checkpoint": cp,
        "kid": kid,
        "keys": signer.public_keys(),
        "signature": signer.sign(payload),
    }


def signed_by_sender(
    found: dict[str, Any], cp: dict[str, Any], keys: dict[str, str], sender: str
) -> bool:
    """Whether a witness's answer (``found``, its checkpoint ``cp``) carries the
    signatures of ``sender`` with one of ``keys`` — checkpoint and envelope — which no
    witness can invent: what the monitor and ``sluice doctor`` believe of a witness."""
    try:
        kid = cp["kid"]
        payload = checkpoint_payload(seq=cp["seq"], hash_hex=cp["hash"], ts=cp["ts"], kid=kid)
        if kid not in keys or not verify_signature(keys[kid], payload, cp["signature"]):
            return False
        epoch, env = found["epoch"], found["envelope"]
        if found.get("sender") != sender or type(epoch) is not int or env["kid"] not in keys:
            return False
        signed = envelope_payload(sender=sender, epoch=epoch, checkpoint=cp, kid=env["kid"])
        return verify_signature(keys[env["kid"]], signed, env["signature"])
    except (KeyError, TypeError):
        return False
