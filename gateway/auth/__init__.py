"""Authentication: bearer JWTs validated against a JWKS, claims → ``UserContext``.

Routes depend on ``gateway.web.current_user``; the wiring builds the ``Authenticator`` with
``build_authenticator(settings)``; ``sluice token`` uses ``mint_token``.

The names below are loaded on first use, not with the package: ``sluice token`` imports
``gateway.auth.lifetimes``, and a package that imported the validator (authlib, httpx)
made that quick command pay for the whole authentication stack.
"""

from __future__ import annotations

import importlib
from typing import Any

_WHERE = {
    "Authenticator": "authenticator",
    "build_authenticator": "authenticator",
    "ClaimNames": "claims",
    "to_user_context": "claims",
    "EMBEDDED_ISSUER": "issuer",
    "mint_token": "issuer",
    "JwksProvider": "jwks",
    "RemoteJwks": "jwks",
    "StaticJwks": "jwks",
    "SigningKey": "keys",
    "load_or_create_signing_key": "keys",
    "TokenValidator": "validator",
}

__all__ = sorted(_WHERE)


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module 'gateway.auth' has no attribute {name!r}")
    return getattr(importlib.import_module(f"gateway.auth.{module}"), name)
