"""Where verification keys come from: a ``JwksProvider`` maps a ``kid`` to a public key.

Two providers:

- ``StaticJwks``: a fixed set (the embedded issuer's own public key).
- ``RemoteJwks``: an OIDC provider's ``jwks_uri`` fetched with httpx, cached, refreshed
  when stale, and re-fetched when a token names an unknown ``kid`` (key rotation) — at
  most once per ``min_refresh_interval`` seconds, so a stream of tokens with made-up
  ``kid``s cannot turn the gateway into an amplifier against the provider.

The JWKS URL comes only from settings: nothing in a token (``jku``, ``x5u``) ever
chooses where keys are fetched from. Keys are parsed once into joserfc key objects and
kept in a dict; a lookup is an exact dict match on the ``kid`` string.

A fetch is whole within its bound (``timeout``: connect, headers and body, on the shared
deadline thread, ``catalog.http_deadline``), and its body is read up to
``MAX_JWKS_BYTES`` only. One caller fetches at a time; the others do not wait for a
provider that stalls: with keys held they go on with them, and without they wait one
bound at most, then 503 (the twenty-seventh pass: a JWKS that trickled its answer held the fetch as
long as it liked, and every request that needed a key queued behind its lock).
"""

from __future__ import annotations

import base64
import json
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any, Protocol

import httpx
import structlog
from joserfc.jwk import ECKey, OKPKey, RSAKey

from catalog.errors import Unavailable
from catalog.http_read_within import BodyTooLarge, DeadlinePassed, read_within

log = structlog.get_logger("sluice.auth.jwks")

PublicKey = RSAKey | ECKey | OKPKey
_KEY_TYPES: dict[str, type[RSAKey] | type[ECKey] | type[OKPKey]] = {
    "RSA": RSAKey,
    "EC": ECKey,
    "OKP": OKPKey,
}
_PUBLIC_MEMBERS = {
    "RSA": ("kty", "n", "e"),
    "EC": ("kty", "crv", "x", "y"),
    "OKP": ("kty", "crv", "x"),
}
MIN_RSA_BITS = 2048
MAX_JWKS_BYTES = 256 * 1024
GRACE_S = 0.5  # past the fetch's bound: its expiry may run that much late


class JwksProvider(Protocol):
    """Source of verification keys, looked up by exact ``kid``."""

    def get(self, kid: str) -> PublicKey | None:
        """The public key with this ``kid``, or None when no such key is known."""
        ...

    def document(self) -> dict[str, Any] | None:
        """The JWKS this gateway publishes, or None when it publishes none."""
        ...


def _rsa_bits(n: str) -> int:
    return len(base64.urlsafe_b64decode(n + "=" * (-len(n) % 4))) * 8


def _import_public(jwk: Mapping[str, Any]) -> PublicKey | None:
    """One JWK → a public key object bound to its ``alg``/``use``; None if unusable.

    Only the public members are imported, so a JWKS that leaks private parts never
    makes the gateway hold a private key.
    """
    kty = jwk.get("kty")
    if not isinstance(kty, str) or kty not in _KEY_TYPES:
        return None
    if jwk.get("use", "sig") != "sig":
        return None
    members = {name: jwk[name] for name in _PUBLIC_MEMBERS[kty] if name in jwk}
    if kty == "RSA" and _rsa_bits(str(members.get("n", ""))) < MIN_RSA_BITS:
        return None
    for extra in ("alg", "use"):
        if isinstance(jwk.get(extra), str):
            members[extra] = jwk[extra]
    return _KEY_TYPES[kty].import_key(members)


def parse_jwks(document: Any) -> dict[str, PublicKey]:
    """A JWKS document → ``{kid: key}``; keys without a string ``kid`` are ignored."""
    if not isinstance(document, dict) or not isinstance(document.get("keys"), list):
        raise ValueError("not a JWKS document")
    keys: dict[str, PublicKey] = {}
    for jwk in document["keys"]:
        if not isinstance(jwk, dict) or not isinstance(jwk.get("kid"), str):
            continue
        try:
            key = _import_public(jwk)
        except (ValueError, TypeError, KeyError) as exc:
            log.warning("jwks_key_skipped", kid=jwk["kid"][:64], error=type(exc).__name__)
            continue
        if key is not None:
            keys[jwk["kid"]] = key
    return keys


class StaticJwks:
    """A fixed key set; ``document`` publishes it (public members only)."""

    def __init__(self, jwks: dict[str, Any]) -> None:
        self._document = jwks
        self._keys = parse_jwks(jwks)

    def get(self, kid: str) -> PublicKey | None:
        return self._keys.get(kid)

    def document(self) -> dict[str, Any] | None:
        return self._document


class RemoteJwks:
    """An OIDC provider's JWKS, fetched from a configured URL and cached."""

    def __init__(
        self,
        url: str,
        *,
        client: httpx.Client | None = None,
        min_refresh_interval: float = 30.0,
        max_age: float = 900.0,
        timeout: float = 5.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.url = url
        # no connection kept between fetches: a deadline may cut only a socket it opened
        self._client = client or httpx.Client(
            timeout=timeout, follow_redirects=False,
            limits=httpx.Limits(max_keepalive_connections=0),
        )  # fmt: skip
        self._timeout = timeout
        self._min_refresh_interval = min_refresh_interval
        self._max_age = max_age
        self._clock = clock
        self._lock = threading.Lock()
        self._keys: dict[str, PublicKey] = {}
        self._fetched_at: float | None = None
        self._attempted_at: float | None = None
        self.fetch_count = 0

    def get(self, kid: str) -> PublicKey | None:
        now = self._clock()
        keys, fetched_at = self._keys, self._fetched_at
        if fetched_at is not None and now - fetched_at < self._max_age and kid in keys:
            return keys[kid]  # hot path: no lock
        # another caller's fetch under way: with keys held, go on with them; without,
        # wait for it one bound at most (a stalled provider holds no request longer)
        if keys:
            taken = self._lock.acquire(blocking=False)
        else:
            taken = self._lock.acquire(timeout=self._timeout + GRACE_S)
        if not taken:
            return self._held(kid)
        try:
            now = self._clock()
            stale = self._fetched_at is None or now - self._fetched_at >= self._max_age
            if (stale or kid not in self._keys) and self._may_fetch(now):
                self._refresh(now)
            return self._held(kid)
        finally:
            self._lock.release()

    def _held(self, kid: str) -> PublicKey | None:
        if not self._keys:
            raise Unavailable("the identity provider's signing keys are unavailable")
        return self._keys.get(kid)

    def document(self) -> dict[str, Any] | None:
        return None  # the provider publishes its own JWKS

    def _may_fetch(self, now: float) -> bool:
        return self._attempted_at is None or now - self._attempted_at >= self._min_refresh_interval

    def _refresh(self, now: float) -> None:
        """Fetch the JWKS; on failure keep the keys we had (and fail closed without)."""
        self._attempted_at = now
        self.fetch_count += 1
        try:
            keys = parse_jwks(json.loads(self._fetch()))
        except (httpx.HTTPError, ValueError) as exc:
            log.warning("jwks_fetch_failed", url=self.url, error=str(exc)[:200])
            return
        self._keys = keys
        self._fetched_at = now
        log.info("jwks_fetched", url=self.url, kids=sorted(keys)[:20])

    def _fetch(self) -> bytes:
        """The JWKS document's bytes, the exchange whole within ``timeout``; a status
        other than 200 refused before any of the body is read."""
        try:
            _status, body = read_within(
                self._client, "GET", self.url, seconds=self._timeout, max_bytes=MAX_JWKS_BYTES,
                check_status=_only_200, headers={"Accept": "application/json"},
            )  # fmt: skip
        except BodyTooLarge:
            raise ValueError("JWKS too large") from None
        except DeadlinePassed:
            raise httpx.ReadTimeout("the JWKS did not arrive in time") from None
        return body


def _only_200(status: int) -> None:
    if status != 200:
        raise ValueError(f"HTTP {status}")
