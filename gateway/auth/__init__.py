"""Authentication: bearer JWTs validated against a JWKS, claims → ``UserContext``.

Routes depend on ``gateway.web.current_user``; the wiring builds the ``Authenticator`` with
``build_authenticator(settings)``; ``sluice token`` uses ``mint_token``.
"""

from gateway.auth.authenticator import Authenticator, build_authenticator
from gateway.auth.claims import ClaimNames, to_user_context
from gateway.auth.issuer import EMBEDDED_ISSUER, mint_token
from gateway.auth.jwks import JwksProvider, RemoteJwks, StaticJwks
from gateway.auth.keys import SigningKey, load_or_create_signing_key
from gateway.auth.validator import TokenValidator

__all__ = [
    "EMBEDDED_ISSUER",
    "Authenticator",
    "ClaimNames",
    "JwksProvider",
    "RemoteJwks",
    "SigningKey",
    "StaticJwks",
    "TokenValidator",
    "build_authenticator",
    "load_or_create_signing_key",
    "mint_token",
    "to_user_context",
]
