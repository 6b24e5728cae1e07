"""``Authenticator``: an ``Authorization`` header → the caller's ``UserContext``.

``build_authenticator(settings)`` chooses the token source once at startup:

- ``SLUICE_OIDC_ISSUER`` and ``SLUICE_OIDC_JWKS_URL`` set: tokens of that provider,
  keys from its JWKS (``RemoteJwks``);
- neither set: the embedded issuer (``sluice-embedded``), its key in ``SLUICE_HOME``.

Setting only one of the two is a configuration error, refused at startup rather than
silently falling back to the embedded issuer.
"""

from __future__ import annotations

from typing import Any

from catalog.errors import Unauthenticated
from gateway.auth.claims import ClaimNames, claim_names_from, to_user_context
from gateway.auth.issuer import EMBEDDED_ISSUER
from gateway.auth.jwks import RemoteJwks, StaticJwks
from gateway.auth.keys import SigningKey, load_or_create_signing_key
from gateway.auth.validator import TokenValidator
from gateway.core.settings import Settings
from policies.decision import UserContext


class Authenticator:
    """Parses ``Bearer <token>``, validates the token, maps its claims."""

    def __init__(
        self,
        *,
        validator: TokenValidator,
        claim_names: ClaimNames,
        signing_key: SigningKey | None = None,
        issuer: str = EMBEDDED_ISSUER,
        audience: str = "sluice",
    ) -> None:
        self.validator = validator
        self.claim_names = claim_names
        self.signing_key = signing_key  # set only for the embedded issuer
        self.issuer = issuer
        self.audience = audience

    def authenticate(self, authorization_header: str | None) -> UserContext:
        """The caller's ``UserContext``, or ``Unauthenticated`` (401). May block: an
        unknown key id makes a remote JWKS refresh."""
        claims = self.validator.validate(_bearer(authorization_header))
        return to_user_context(claims, self.claim_names)

    def authenticate_if_verified(self, authorization_header: str | None) -> UserContext | None:
        """The caller if this exact token passed validation recently (never blocks), None
        if it must be validated; ``Unauthenticated`` for a malformed header."""
        claims = self.validator.verified_claims(_bearer(authorization_header))
        return None if claims is None else to_user_context(claims, self.claim_names)

    def public_jwks(self) -> dict[str, Any] | None:
        """The JWKS this gateway publishes (embedded issuer only)."""
        return self.validator.jwks.document()


def _bearer(authorization_header: str | None) -> str:
    if not authorization_header:
        raise Unauthenticated("missing bearer token")
    scheme, _, token = authorization_header.strip().partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token or " " in token:
        raise Unauthenticated("expected 'Authorization: Bearer <token>'")
    return token


def build_authenticator(settings: Settings) -> Authenticator:
    """The default authenticator for ``settings`` (see the module docstring)."""
    names = claim_names_from(settings)
    if settings.oidc_issuer or settings.oidc_jwks_url:
        if not (settings.oidc_issuer and settings.oidc_jwks_url):
            raise ValueError("set both SLUICE_OIDC_ISSUER and SLUICE_OIDC_JWKS_URL, or neither")
        validator = TokenValidator(
            jwks=RemoteJwks(settings.oidc_jwks_url),
            issuer=settings.oidc_issuer,
            audience=settings.oidc_audience,
        )
        return Authenticator(
            validator=validator,
            claim_names=names,
            issuer=settings.oidc_issuer,
            audience=settings.oidc_audience,
        )
    key = load_or_create_signing_key(settings.home)
    validator = TokenValidator(
        jwks=StaticJwks({"keys": [key.public_jwk()]}),
        issuer=EMBEDDED_ISSUER,
        audience=settings.oidc_audience,
    )
    return Authenticator(
        validator=validator,
        claim_names=names,
        signing_key=key,
        issuer=EMBEDDED_ISSUER,
        audience=settings.oidc_audience,
    )
