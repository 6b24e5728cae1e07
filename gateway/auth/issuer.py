"""The embedded issuer: mints tokens for demo users with the key in ``SLUICE_HOME``.

Only used when no OIDC provider is configured. Tokens carry the same claims an OIDC
provider would (``sub``, department, roles, clearance, jurisdiction under the configured
claim names) plus ``iss``, ``aud``, ``iat``, ``nbf``, ``exp`` and a random ``jti``, so the
validator treats both kinds of token alike.
"""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import Sequence
from typing import Any, Protocol

from joserfc import jws

from gateway.auth.claims import ClaimNames, set_claim
from gateway.auth.jws_registry import signature_registry
from gateway.auth.keys import SigningKey
from gateway.auth.lifetimes import DEFAULT_TTL_S, MAX_TTL_S

EMBEDDED_ISSUER = "sluice-embedded"


class TokenSubject(Protocol):
    """Anything user-like: a ``catalog.models.User`` row fits."""

    @property
    def subject(self) -> str: ...
    @property
    def department(self) -> str | None: ...
    @property
    def clearance(self) -> str: ...
    @property
    def roles(self) -> Sequence[str]: ...
    @property
    def jurisdiction(self) -> Sequence[str]: ...


def mint_token(
    *,
    user: TokenSubject,
    key: SigningKey,
    issuer: str,
    audience: str,
    ttl: int = DEFAULT_TTL_S,
    claim_names: ClaimNames | None = None,
    now: float | None = None,
) -> str:
    """Sign a token for ``user`` valid for ``ttl`` seconds from ``now``."""
    if not 0 < ttl <= MAX_TTL_S:
        raise ValueError(f"ttl must be between 1 and {MAX_TTL_S} seconds")
    names = claim_names or ClaimNames()
    issued = int(time.time() if now is None else now)
    claims: dict[str, Any] = {
        "iss": issuer,
        "aud": audience,
        "iat": issued,
        "nbf": issued,
        "exp": issued + ttl,
        "jti": secrets.token_urlsafe(16),
    }
    set_claim(claims, names.subject, user.subject)
    set_claim(claims, names.department, user.department)
    set_claim(claims, names.roles, list(user.roles or ()))
    set_claim(claims, names.clearance, user.clearance)
    set_claim(claims, names.jurisdiction, list(user.jurisdiction or ()))
    header = {"alg": key.alg, "kid": key.kid, "typ": "JWT"}
    payload = json.dumps(claims, separators=(",", ":"), ensure_ascii=False).encode()
    registry = signature_registry([key.alg])
    return jws.serialize_compact(header, payload, key.key, algorithms=[key.alg], registry=registry)
