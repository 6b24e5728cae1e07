"""Ed25519 signing keys for checkpoints: on disk in ``<home>/keys/audit``, rotatable;
and the event MAC key that binds every event to the deployment's gateways (``EventMac``).

Each private key lives in ``<kid>.pem`` (mode 0600); ``current`` names the active one.
The key id is a fingerprint of the public key (``ed25519-`` + 16 hex of its SHA-256),
so a verifier that pins key ids cannot be fooled by a substituted public key. Old keys
stay on disk and in the ``audit_keys`` table so old checkpoints keep verifying.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import threading
from pathlib import Path
from typing import Any, Protocol

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from audit.canonical import canonical_json
from catalog.private_files import (
    KEY_BYTES,
    create_once,
    private_dir,
    read_own,
    read_private,
    replace_private,
)

ALGORITHM = "Ed25519"
MAC_SECRET_BYTES = 32
MAC_SALT = b"sluice-audit-event-mac-v1"
MAC_INFO = b"audit_events.mac"
# a key row's MAC input starts with this (an event's is 40 bytes of seq and hash): the
# same deployment key, domain-separated, so an event MAC is never a key row's MAC
KEY_MAC_DOMAIN = b"sluice-audit-keys-mac-v1\x00"


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode("ascii").rstrip("=")


def unb64(text: str) -> bytes:
    """Strict: only the one spelling ``b64`` gives (``ValueError`` otherwise). Python's
    decoder drops characters outside the alphabet and ignores the last character's
    spare bits, so other bytes on disk read as the same key or signature: an export's
    trailer changed that way still verified (found by the byte-change property test)."""
    data = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    if b64(data) != text:
        raise ValueError("not canonical base64url")
    return data


def kid_for(public_raw: bytes) -> str:
    """The key id is the public key's fingerprint: self-certifying."""
    return "ed25519-" + hashlib.sha256(public_raw).hexdigest()[:16]


def _raw_public(key: Ed25519PrivateKey) -> bytes:
    return key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def checkpoint_payload(*, seq: int, hash_hex: str, ts: str, kid: str) -> bytes:
    """What a checkpoint signature covers; the kid is inside, so it cannot be swapped."""
    return canonical_json({"seq": seq, "hash": hash_hex, "ts": ts, "kid": kid})


def verify_signature(public_b64: str, payload: bytes, signature_b64: str) -> bool:
    """True only for a valid signature; malformed keys or signatures are simply invalid."""
    try:
        key = Ed25519PublicKey.from_public_bytes(unb64(public_b64))
        key.verify(unb64(signature_b64), payload)
    except (InvalidSignature, ValueError, TypeError):
        return False
    return True


def mac_secret_path(home: Path) -> Path:
    """The deployment's shared secret the event MAC key is derived from: the masking
    secret (``gateway.enforcement.masking.secret``), which every replica already holds
    as the same file and which never goes into the database. Read here by path, not
    imported: the audit package sits below the gateway."""
    return home / "keys" / "mask.secret"


def share_mac_secret(home: Path, of: Path) -> Path:
    """Make ``home`` another replica of ``of``'s deployment: copy the secret the event MAC
    key is derived from (created in ``of`` if it has none), as docs/deploy.md has
    operators copy it. Returns ``home``."""
    EventMac.in_home(of)
    # renamed into place: a link there is replaced, never written through
    replace_private(mac_secret_path(home), read_private(mac_secret_path(of)))
    return home


def event_mac(key: bytes, seq: int, hash_raw: bytes) -> str:
    """The MAC of event ``seq``: HMAC-SHA256 over its seq (8 bytes, big-endian) and its
    chain hash (which covers the previous hash and the body). Hex, as stored."""
    return hmac.digest(key, seq.to_bytes(8, "big") + hash_raw, "sha256").hex()


_BLOCK = 64  # SHA-256's block size
_IPAD = bytes(b ^ 0x36 for b in range(256))  # key XOR pad, as translation tables
_OPAD = bytes(b ^ 0x5C for b in range(256))


def mac_states(key: bytes) -> tuple[Any, Any]:
    """HMAC-SHA256's keyed inner and outer states for ``key`` (RFC 2104), computed once.

    ``outer.copy()`` updated with the digest of ``inner.copy()`` updated with a message
    is ``hmac.digest(key, message, "sha256")``, at two compressions per message instead
    of four: what verification, which MACs every event, uses (``audit.scan``)."""
    if len(key) > _BLOCK:
        key = hashlib.sha256(key).digest()
    block = key.ljust(_BLOCK, b"\0")
    return hashlib.sha256(block.translate(_IPAD)), hashlib.sha256(block.translate(_OPAD))


class EventMac:
    """The key binding every event to the gateways of one deployment.

    The chain hash is an unkeyed SHA-256 anyone can compute, so a database insider who
    may INSERT can append an event that chains correctly; only a gateway can compute its
    MAC. The key is ``HKDF-SHA256(mask secret, salt=MAC_SALT, info=MAC_INFO)``: a key of
    its own (knowing a case's masking key or the subject-token key tells nothing of it),
    the same on every replica because the secret file is, and never in the database."""

    __slots__ = ("key",)

    def __init__(self, key: bytes) -> None:
        if len(key) != 32:
            raise ValueError("an event MAC key is 32 bytes")
        self.key = key

    @classmethod
    def from_secret(cls, secret: bytes) -> EventMac:
        hkdf = HKDF(algorithm=hashes.SHA256(), length=32, salt=MAC_SALT, info=MAC_INFO)
        return cls(hkdf.derive(secret))

    @classmethod
    def in_home(cls, home: Path) -> EventMac:
        """Derived from ``<home>/keys/mask.secret`` (created 0600 on first use, as the
        masking code does; refused if other users could read it)."""
        path = mac_secret_path(home)
        create_once(path, lambda: os.urandom(MAC_SECRET_BYTES), prefix=".mask-")
        secret = read_private(path)
        if len(secret) < MAC_SECRET_BYTES:
            raise ValueError(f"{path} is shorter than {MAC_SECRET_BYTES} bytes")
        return cls.from_secret(secret)

    def tag(self, seq: int, hash_raw: bytes) -> str:
        return event_mac(self.key, seq, hash_raw)

    def key_tag(self, kid: str, algorithm: str, public_key: str) -> str:
        """The MAC of an ``audit_keys`` row: only a gateway of this deployment can make
        one, so a key an insider INSERTs is never published or trusted."""
        return key_row_mac(self.key, kid, algorithm, public_key)

    def __repr__(self) -> str:  # never the key itself
        return "EventMac(<secret>)"


def key_row_mac(key: bytes, kid: str, algorithm: str, public_key: str) -> str:
    """HMAC-SHA256 over the row's kid, algorithm and public key (canonical JSON, after a
    domain prefix). Hex, as stored in ``audit_keys.mac``."""
    body = canonical_json({"kid": kid, "algorithm": algorithm, "public_key": public_key})
    return hmac.digest(key, KEY_MAC_DOMAIN + body, "sha256").hex()


class KeyRows:
    """The rows of ``audit_keys`` sorted by what vouches for them.

    ``trusted``: rows whose MAC checks, and MAC-less rows whose key this gateway's own
    ring holds (it has the private half: its own key from before the upgrade). Only
    these are published for pinning and exported. ``legacy``: the other MAC-less rows —
    keys of replicas from before MACs existed, or an insider's. They may verify only
    checkpoints below the first MAC'd event (``AuditStore.mac_boundary``), which the
    event chain fixes; they are never published. A row with a wrong MAC is neither.
    Without a MAC key (a verifier outside the home) every row is trusted, as before."""

    __slots__ = ("legacy", "trusted")

    def __init__(
        self,
        rows: list[tuple[Any, ...]],
        mac: EventMac | None,
        own: dict[str, str],
    ) -> None:
        """``rows`` are ``(kid, algorithm, public_key, created_at, mac)``."""
        self.trusted: list[tuple[Any, ...]] = []
        self.legacy: list[tuple[Any, ...]] = []
        for row in rows:
            kid, algorithm, public, _created, tag = row
            if mac is None:
                self.trusted.append(row)
            elif tag is not None:
                if hmac.compare_digest(str(tag), mac.key_tag(kid, algorithm, public)):
                    self.trusted.append(row)
            elif own.get(kid) == public:
                self.trusted.append(row)
            else:
                self.legacy.append(row)


class Signer(Protocol):
    """What the writer needs to sign checkpoints; tests may pass their own."""

    @property
    def kid(self) -> str: ...

    def sign(self, payload: bytes) -> str: ...

    def public_keys(self) -> dict[str, str]: ...


class KeyRing:
    """The process's audit signing keys, loaded from (or created in) one directory."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self._lock = threading.Lock()
        self._keys: dict[str, Ed25519PrivateKey] = {}
        self._active = ""
        # the event MAC key (``EventMac``): the writer tags every event with it and binds
        # its store to it for verification; None for a ring outside a Sluice home
        self.event_mac: EventMac | None = None
        self._load()

    @classmethod
    def in_home(cls, home: Path) -> KeyRing:
        ring = cls(home / "keys" / "audit")
        ring.event_mac = EventMac.in_home(home)
        return ring

    def _load(self) -> None:
        private_dir(self.directory)
        for path in sorted(self.directory.glob("ed25519-*.pem")):
            # never through a link, never a FIFO (``read_own``): root's CLI reads them
            key = serialization.load_pem_private_key(read_own(path, limit=KEY_BYTES), password=None)
            if not isinstance(key, Ed25519PrivateKey):
                raise ValueError(f"{path} is not an Ed25519 key")
            self._keys[kid_for(_raw_public(key))] = key
        try:
            active = read_own(self.directory / "current", limit=KEY_BYTES).decode().strip()
        except FileNotFoundError:
            active = ""
        if active in self._keys:
            self._active = active
        else:
            self.rotate()

    @property
    def kid(self) -> str:
        return self._active

    def sign(self, payload: bytes) -> str:
        with self._lock:
            key = self._keys[self._active]
        return b64(key.sign(payload))

    def public_keys(self) -> dict[str, str]:
        """Every key this ring holds, old ones included: kid -> base64url raw public key."""
        with self._lock:
            return {kid: b64(_raw_public(key)) for kid, key in self._keys.items()}

    def rotate(self) -> str:
        """Create a new key, make it active, keep the old ones for verification."""
        key = Ed25519PrivateKey.generate()
        kid = kid_for(_raw_public(key))
        pem = key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        path = self.directory / f"{kid}.pem"
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as handle:
            handle.write(pem)
            handle.flush()
            os.fsync(handle.fileno())
        replace_private(self.directory / "current", (kid + "\n").encode())
        with self._lock:
            self._keys[kid] = key
            self._active = kid
        return kid


def describe_keys(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Public key records as published at ``GET /api/v1/audit/keys``."""
    return [
        {
            "kid": r["kid"],
            "algorithm": r.get("algorithm", ALGORITHM),
            "public_key": r["public_key"],
            "created_at": r.get("created_at"),
        }
        for r in rows
    ]
