"""Routes for authentication: the embedded issuer's JWKS and "who am I"."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request

from catalog.errors import NotFound
from gateway.web.current_user import current_user
from gateway.web.deps import get_services
from policies.decision import UserContext

router = APIRouter(tags=["auth"])


@router.get("/.well-known/jwks.json")
def jwks(request: Request) -> dict[str, Any]:
    """Public keys of the embedded issuer; with an OIDC provider, the provider's own
    JWKS is authoritative and this gateway publishes none (404)."""
    document = get_services(request).authenticator.public_jwks()
    if document is None:
        raise NotFound("this gateway does not issue tokens; see the identity provider's JWKS")
    return document


@router.get("/api/v1/me")
def me(user: UserContext = Depends(current_user)) -> dict[str, Any]:
    """The caller as the gateway sees them (subject, department, roles, clearance,
    jurisdiction): useful to check a token and its claim mapping."""
    return user.to_input()
