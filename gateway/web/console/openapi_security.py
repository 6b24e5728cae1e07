"""``/docs`` (issue 14): the bearer scheme in the OpenAPI document, so Swagger UI's
"Authorize" takes a token and "Try it out" sends it.

Each operation says what it needs, read from its own dependencies rather than listed by
hand: one that depends on ``current_user`` requires the bearer scheme; one that
depends on ``optional_user`` accepts it (``[{}, {"bearer": []}]``: anonymous or signed
in); the others are public and say nothing. Routes are not changed: only the document.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.openapi.utils import get_openapi
from fastapi.routing import APIRoute
from starlette.routing import BaseRoute

from gateway.web.current_user import audited_user, current_user, deferred_user, optional_user

SCHEME = "bearer"


def _calls(dependant: Dependant) -> set[Any]:
    found: set[Any] = set()
    stack = [dependant]
    while stack:
        item = stack.pop()
        if item.call is not None:
            found.add(item.call)
        stack.extend(item.dependencies)
    return found


def _api_routes(routes: Iterable[BaseRoute]) -> Iterator[APIRoute]:
    """Every ``APIRoute``, also inside included routers (FastAPI ≥ 0.160 keeps an
    included router as one ``_IncludedRouter`` item naming its ``original_router``;
    the routers here carry their prefix in their routes' paths)."""
    for route in routes:
        if isinstance(route, APIRoute):
            yield route
            continue
        inner = getattr(getattr(route, "original_router", None), "routes", None)
        if inner is not None:
            yield from _api_routes(inner)


def install_bearer_scheme(app: FastAPI) -> None:
    """Replace ``app.openapi`` by one that adds ``securitySchemes`` and per-operation
    ``security`` (built once, cached like FastAPI's own)."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is not None:
            return app.openapi_schema
        document = get_openapi(title=app.title, version=app.version,
                               description=app.description, routes=app.routes)  # fmt: skip
        components = document.setdefault("components", {})
        components.setdefault("securitySchemes", {})[SCHEME] = {
            "type": "http", "scheme": "bearer", "bearerFormat": "JWT",
            "description": "`sluice token USER` (embedded issuer) or your identity "
                           "provider's access token",
        }  # fmt: skip
        for route in _api_routes(app.routes):
            if not route.include_in_schema:
                continue
            calls = _calls(route.dependant)
            if calls & {current_user, deferred_user, audited_user}:
                security: list[dict[str, list[str]]] = [{SCHEME: []}]
            elif optional_user in calls:
                security = [{}, {SCHEME: []}]
            else:
                continue
            item = document.get("paths", {}).get(route.path_format, {})
            for method in route.methods or ():
                operation = item.get(method.lower())
                if operation is not None:
                    operation["security"] = security
        app.openapi_schema = document
        return document

    app.openapi = openapi  # type: ignore[method-assign]
