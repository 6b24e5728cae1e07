"""This gateway as a witness: it keeps other gateways' checkpoints and countersigns them.

A sender posts an envelope (``audit.witness_envelope.make_envelope``). The witness:

1. checks the shape and that every public key hashes to its key id;
2. pins the sender's key: a pin configured for that sender name
   (``SLUICE_WITNESS_TRUST=name=kid,...``) wins; otherwise the first key seen from
   that name is pinned on first use (``SLUICE_WITNESS_TOFU``, off by default: an anonymous
   client posting first would otherwise squat another gateway's name) and kept
   in the book; a checkpoint or envelope signed by any other key is refused;
3. verifies the checkpoint signature and the envelope signature;
4. refuses an epoch lower than the newest it saw from that sender, a seq lower than
   the newest in the epoch, and a different hash at the newest seq (an identical
   resend is answered again, so a sender's retry is harmless);
5. appends what it accepted to ``<home>/witnessed/<sender>.jsonl`` (fsynced, outside
   its own database) and answers a countersignature made with its own audit key.

Seqs only go up within an epoch, so the newest checkpoint per sender is all the state
the checks need; the file keeps every one for the record.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

from audit.canonical import canonical_json
from audit.checkpoints import check_keys
from audit.events import format_ts, utc_now
from audit.jsonl import append_line, read_objects
from audit.signing import Signer, checkpoint_payload, verify_signature
from audit.witness_envelope import envelope_payload
from catalog.errors import BadRequest, Conflict, Forbidden
from catalog.private_files import private_dir

SENDER_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
HEX64 = re.compile(r"^[0-9a-f]{64}$")
MAX_SEQ = 2**63 - 1


def countersign_payload(receipt: Mapping[str, Any]) -> bytes:
    return canonical_json({k: v for k, v in receipt.items() if k != "countersignature"})


class WitnessBook:
    """Checkpoints witnessed for other gateways, one append-only file per sender."""

    def __init__(
        self,
        *,
        home: Path,
        signer: Signer,
        name: str,
        pins: Mapping[str, set[str]] | None = None,
        tofu: bool = True,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        self.directory = home / "witnessed"
        self.signer = signer
        self.name = name
        self.configured = {k: set(v) for k, v in (pins or {}).items()}
        self.tofu = tofu
        self.clock = clock
        self._lock = threading.Lock()
        self._pins: dict[str, set[str]] = {}
        self._latest: dict[str, dict[str, Any]] = {}  # sender -> newest accepted receipt
        self._load()

    def _load(self) -> None:
        if not self.directory.exists():
            return
        for path in sorted(self.directory.glob("*.jsonl")):
            for record in read_objects(path):
                if record.get("kind") == "pin":
                    self._pins.setdefault(record["sender"], set()).add(record["kid"])
                elif record.get("kind") == "witnessed":
                    self._latest[record["sender"]] = record["receipt"]

    def _write(self, sender: str, record: dict[str, Any]) -> None:
        private_dir(self.directory)
        append_line(self.directory / f"{sender}.jsonl", canonical_json(record))

    def latest(self, sender: str) -> dict[str, Any] | None:
        with self._lock:
            return self._latest.get(sender)

    def senders(self) -> list[str]:
        with self._lock:
            return sorted(self._latest)

    def receive(self, envelope: Mapping[str, Any]) -> dict[str, Any]:
        """Check, record and countersign one envelope; raises on any refusal."""
        sender, epoch, cp, kid, keys = _parse(envelope)
        bad = check_keys(keys)
        if bad:
            raise BadRequest(f"public keys do not match their ids: {bad}")
        with self._lock:
            pinned = self.configured.get(sender) or self._pins.get(sender)
            new_pin = False
            if not pinned:
                if not self.tofu:
                    raise Forbidden(f"sender {sender!r} is not trusted by this witness")
                pinned, new_pin = {kid}, True
            for used in {kid, cp["kid"]}:
                if used not in pinned:
                    raise Forbidden(f"key {used} is not pinned for sender {sender!r}")
                if used not in keys:
                    raise BadRequest(f"the envelope does not carry key {used}")
            payload = checkpoint_payload(seq=cp["seq"], hash_hex=cp["hash"], ts=cp["ts"],
                                         kid=cp["kid"])  # fmt: skip
            if not verify_signature(keys[cp["kid"]], payload, cp["signature"]):
                raise Forbidden("the checkpoint signature does not verify")
            signed = envelope_payload(sender=sender, epoch=epoch, checkpoint=cp, kid=kid)
            if not verify_signature(keys[kid], signed, str(envelope["signature"])):
                raise Forbidden("the envelope signature does not verify")
            previous = self._latest.get(sender)
            if previous is not None:
                again = _compare(previous, epoch, cp)
                if again:
                    return previous
            if new_pin:
                self._write(sender, {"kind": "pin", "sender": sender, "kid": kid,
                                     "at": format_ts(self.clock())})  # fmt: skip
                self._pins[sender] = {kid}
            receipt = self._countersign(sender, epoch, cp, kid, str(envelope["signature"]))
            self._write(sender, {"kind": "witnessed", "sender": sender, "receipt": receipt,
                                 "keys": {k: keys[k] for k in {kid, cp["kid"]}}})  # fmt: skip
            self._latest[sender] = receipt
            return receipt

    def _countersign(
        self, sender: str, epoch: int, cp: dict[str, Any], kid: str, signature: str
    ) -> dict[str, Any]:
        receipt: dict[str, Any] = {
            "witness": self.name,
            "sender": sender,
            "epoch": epoch,
            "checkpoint": cp,
            # the sender's own signature over (sender, epoch, checkpoint): the sender can
            # check that a witness reports an epoch it really sent
            "envelope": {"kid": kid, "signature": signature},
            "witnessed_at": format_ts(self.clock()),
            "witness_kid": self.signer.kid,
            "witness_key": self.signer.public_keys()[self.signer.kid],
        }
        receipt["countersignature"] = self.signer.sign(countersign_payload(receipt))
        return receipt


def _compare(previous: dict[str, Any], epoch: int, cp: dict[str, Any]) -> bool:
    """True for an identical resend; raise Conflict for a backwards or rewritten one."""
    old_epoch, old = int(previous["epoch"]), previous["checkpoint"]
    if epoch < old_epoch:
        raise Conflict(f"epoch goes backwards: {epoch} after {old_epoch}")
    if epoch > old_epoch:
        return False
    if cp["seq"] < old["seq"]:
        raise Conflict(f"sequence goes backwards: {cp['seq']} after {old['seq']}")
    if cp["seq"] == old["seq"]:
        if cp["hash"] != old["hash"]:
            raise Conflict(f"hash at witnessed seq {cp['seq']} changed")
        return True
    return False


def _parse(envelope: Mapping[str, Any]) -> tuple[str, int, dict[str, Any], str, dict[str, str]]:
    """Strict shape checks (known members, types, bounds) before anything is trusted."""
    if not isinstance(envelope, Mapping):
        raise BadRequest("the envelope must be an object")
    expected = {"sender", "epoch", "checkpoint", "kid", "keys", "signature"}
    if set(envelope) != expected:
        raise BadRequest(f"the envelope must have exactly {sorted(expected)}")
    sender, epoch, cp = envelope["sender"], envelope["epoch"], envelope["checkpoint"]
    kid, keys = envelope["kid"], envelope["keys"]
    if not isinstance(sender, str) or not SENDER_RE.match(sender):
        raise BadRequest("sender must be 1-64 of [A-Za-z0-9._-]")
    if type(epoch) is not int or not 0 <= epoch <= MAX_SEQ:
        raise BadRequest("epoch must be an integer in [0, 2^63)")
    _check_checkpoint(cp)
    strings = (cp["ts"], cp["kid"], cp["signature"], kid, envelope["signature"])
    if not all(isinstance(v, str) and 0 < len(v) <= 200 for v in strings):
        raise BadRequest("ts, kid and signatures must be short strings")
    _check_keys(keys)
    return sender, epoch, dict(cp), kid, dict(keys)


def _check_checkpoint(cp: Any) -> None:
    if not isinstance(cp, Mapping) or set(cp) != {"seq", "hash", "ts", "kid", "signature"}:
        raise BadRequest("checkpoint must have exactly seq, hash, ts, kid, signature")
    if type(cp["seq"]) is not int or not 1 <= cp["seq"] <= MAX_SEQ:
        raise BadRequest("checkpoint seq must be an integer in [1, 2^63)")
    if not isinstance(cp["hash"], str) or not HEX64.match(cp["hash"]):
        raise BadRequest("checkpoint hash must be 64 lower-case hex digits")


def _check_keys(keys: Any) -> None:
    if (
        not isinstance(keys, Mapping)
        or not 0 < len(keys) <= 64
        or not all(isinstance(k, str) and isinstance(v, str) for k, v in keys.items())
    ):
        raise BadRequest("keys must map key ids to public keys")  # fmt: skip
