"""Bearer JWT validation: the first step of every request, so strict and fast.

Order of evaluation matters here and is deliberate:

1. shape: a compact JWS of at most ``MAX_TOKEN_BYTES``, three base64url segments;
2. header, **before any key lookup**: only the allow-listed parameters (``alg``, ``kid``,
   ``typ``, ``cty`` and the inert ``x5t`` hints). Anything that could point the verifier
   at another key or change how the token is processed — ``jku``, ``x5u``, ``jwk``,
   ``x5c``, ``crit``, ``b64`` … — rejects the token outright, so no outbound fetch can
   ever be caused by a token;
3. ``alg`` must be one of the asymmetric algorithms, matched case-sensitively
   (``none``/``NONE``, ``HS256`` signed with the public key: rejected here);
4. ``kid`` is looked up by exact match in the provider's dict — it is never used in a
   path, a URL or a query;
5. the signature is verified by joserfc (authlib's JOSE implementation) against that
   one key, whose type and curve must fit the ``alg``;
6. claims: ``exp`` required, ``iss`` and ``aud`` must match, ``nbf``/``iat`` checked,
   with ``LEEWAY_S`` of clock skew.

A token that passed all six steps is remembered (keyed by the exact token string) for
at most ``CACHE_TTL_S`` seconds and never past its own ``exp`` + leeway, because the
same token arrives with every request of a session and the signature check dominates
the cost. Consequence: a key withdrawn from the JWKS stops being honoured for tokens
already seen only after ``CACHE_TTL_S``.

Every failure raises ``Unauthenticated`` with a short fixed reason; the token itself is
never echoed into an error or a log line.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Collection
from typing import Any, NoReturn

from joserfc import jws
from joserfc.errors import (
    BadSignatureError,
    ClaimError,
    ExpiredTokenError,
    JoseError,
    MissingClaimError,
)
from joserfc.jwt import JWTClaimsRegistry
from joserfc.util import urlsafe_b64decode

from catalog.errors import Unauthenticated
from gateway.auth.jwks import JwksProvider
from gateway.auth.jws_registry import signature_registry

ALLOWED_ALGORITHMS: tuple[str, ...] = ("RS256", "ES256", "EdDSA")
ALLOWED_HEADERS = frozenset({"alg", "kid", "typ", "cty", "x5t", "x5t#S256"})
KEY_POINTING_HEADERS = frozenset({"jku", "x5u", "jwk", "x5c", "crit"})
ALLOWED_TYP = frozenset({"jwt", "at+jwt", "application/jwt", "application/at+jwt"})
LEEWAY_S = 30
MAX_TOKEN_BYTES = 8192
MAX_KID_CHARS = 256
CACHE_TTL_S = 60.0
CACHE_MAX_ENTRIES = 10_000


def _fail(reason: str) -> NoReturn:
    raise Unauthenticated(f"invalid token: {reason}")


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """JSON object hook: a header or payload with a repeated member is ambiguous."""
    result: dict[str, Any] = {}
    for name, value in pairs:
        if name in result:
            raise ValueError("duplicate member")
        result[name] = value
    return result


def _decode_json_segment(segment: str) -> dict[str, Any]:
    try:
        raw = urlsafe_b64decode(segment.encode("ascii"))
        value = json.loads(raw, object_pairs_hook=_no_duplicates)
    except (ValueError, TypeError, UnicodeDecodeError):
        _fail("malformed")
    if not isinstance(value, dict):
        _fail("malformed")
    return value


class _VerifiedTokens:
    """Bounded map: exact token string → (claims, valid-until); oldest evicted first."""

    def __init__(self, max_entries: int) -> None:
        self._max = max_entries
        self._entries: dict[str, tuple[dict[str, Any], float]] = {}
        self._lock = threading.Lock()

    def get(self, token: str, now: float) -> dict[str, Any] | None:
        entry = self._entries.get(token)
        if entry is None or now >= entry[1]:
            return None
        return entry[0]

    def put(self, token: str, claims: dict[str, Any], until: float, now: float) -> None:
        with self._lock:
            if len(self._entries) >= self._max:
                expired = [t for t, (_, end) in self._entries.items() if end <= now]
                for old in expired or [next(iter(self._entries))]:
                    self._entries.pop(old, None)
            self._entries[token] = (claims, until)


class TokenValidator:
    """Validates bearer JWTs of one issuer and audience against one key provider."""

    def __init__(
        self,
        *,
        jwks: JwksProvider,
        issuer: str,
        audience: str,
        algorithms: Collection[str] = ALLOWED_ALGORITHMS,
        leeway_s: int = LEEWAY_S,
        clock: Callable[[], float] = time.time,
    ) -> None:
        unsupported = set(algorithms) - set(ALLOWED_ALGORITHMS)
        if unsupported:
            raise ValueError(f"only asymmetric algorithms are accepted, not {sorted(unsupported)}")
        self.jwks = jwks
        self._clock = clock
        self._leeway_s = leeway_s
        self._verified = _VerifiedTokens(CACHE_MAX_ENTRIES)
        self._algorithms = frozenset(algorithms)
        self._registry = signature_registry(sorted(self._algorithms))
        self._claims = JWTClaimsRegistry(
            now=lambda: int(clock()),
            leeway=leeway_s,
            iss={"essential": True, "value": issuer},
            aud={"essential": True, "value": audience},
            exp={"essential": True},
            sub={"essential": True},
        )

    def verified_claims(self, token: str) -> dict[str, Any] | None:
        """The claims of ``token`` if it passed ``validate`` and is still within its
        cache window, else None. Never blocks (no key lookup)."""
        cached = self._verified.get(token, self._clock())
        return None if cached is None else dict(cached)

    def validate(self, token: str) -> dict[str, Any]:
        """Return the verified claims of ``token`` or raise ``Unauthenticated``."""
        now = self._clock()
        cached = self._verified.get(token, now)
        if cached is not None:
            return dict(cached)
        if not isinstance(token, str) or not token or len(token) > MAX_TOKEN_BYTES:
            _fail("malformed")
        if not token.isascii():
            _fail("malformed")
        segments = token.split(".")
        if len(segments) != 3 or not all(segments):
            _fail("malformed")
        header = _decode_json_segment(segments[0])
        alg, kid = self._check_header(header)
        key = self.jwks.get(kid)
        if key is None:
            _fail("unknown signing key")
        try:
            obj = jws.deserialize_compact(token, key, algorithms=[alg], registry=self._registry)
        except BadSignatureError:
            _fail("bad signature")
        except JoseError:
            _fail("signature not verifiable")
        try:
            claims = json.loads(obj.payload or b"", object_pairs_hook=_no_duplicates)
        except (ValueError, UnicodeDecodeError):
            _fail("malformed")
        if not isinstance(claims, dict):
            _fail("malformed")
        self._check_claims(claims)
        until = min(float(claims["exp"]) + self._leeway_s, now + CACHE_TTL_S)
        self._verified.put(token, claims, until, now)
        return dict(claims)

    def _check_header(self, header: dict[str, Any]) -> tuple[str, str]:
        names = set(header)
        if names & KEY_POINTING_HEADERS:
            _fail("header parameter not accepted")
        if not names <= ALLOWED_HEADERS:
            _fail("header parameter not accepted")
        alg = header.get("alg")
        if not isinstance(alg, str) or alg not in self._algorithms:
            _fail("algorithm not accepted")
        typ = header.get("typ")
        if typ is not None and (not isinstance(typ, str) or typ.lower() not in ALLOWED_TYP):
            _fail("type not accepted")
        kid = header.get("kid")
        if not isinstance(kid, str) or not kid or len(kid) > MAX_KID_CHARS:
            _fail("unknown signing key")
        return alg, kid

    def _check_claims(self, claims: dict[str, Any]) -> None:
        try:
            self._claims.validate(claims)
        except ExpiredTokenError:
            _fail("expired")
        except MissingClaimError as exc:
            _fail(f"missing claim {exc.claim}")
        except ClaimError as exc:
            _fail(f"invalid claim {exc.claim}")
