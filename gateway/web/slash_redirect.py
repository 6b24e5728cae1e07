"""The trailing-slash redirect as a path, never built from the request's ``Host``.

Starlette's router answers a path that matches a route only with (or without) a
trailing slash by a redirect to an absolute URL made of the request's scheme and
``Host`` — the one link the gateway still built from them after red team 29
(``gateway.web.public_origin``). Behind a TLS proxy the gateway is not told to trust,
``https://…/api/v1/datasets/?q=…`` was sent to ``http://…/api/v1/datasets?q=…`` (the
next request in clear: its query, and with ``curl -L`` its bearer token); and the
``Host``'s port, which the allow-list does not compare, chose the port the client went
to next (red team 35). The redirect is now the path and query alone, which the client
resolves against the URL it used; a path a client would read as another host's
(``//evil.example``) is not redirected.
"""

from __future__ import annotations

from starlette.datastructures import URL
from starlette.responses import RedirectResponse
from starlette.routing import Match, Router
from starlette.types import Receive, Scope, Send


def relative_slash_redirects(router: Router) -> None:
    """Replace ``router``'s own slash redirect by one whose ``Location`` is a path."""
    not_found = router.default
    router.redirect_slashes = False

    async def default(scope: Scope, receive: Receive, send: Send) -> None:
        target = _other_spelling(router, scope) if scope["type"] == "http" else None
        if target is None:
            await not_found(scope, receive, send)
            return
        await RedirectResponse(target)(scope, receive, send)

    router.default = default


def _other_spelling(router: Router, scope: Scope) -> str | None:
    """The path (and query) with the trailing slash added or removed, when a route takes
    it and no client could read it as a URL of another host."""
    path, root = str(scope["path"]), str(scope.get("root_path", ""))
    route_path = path[len(root) :] if root and path.startswith(root) else path
    if route_path in ("", "/"):
        return None
    other = dict(scope, path=path.rstrip("/") if route_path.endswith("/") else path + "/")
    if not other["path"].startswith("/") or other["path"].startswith("//") or "\\" in path:
        return None
    if not any(route.matches(other)[0] is not Match.NONE for route in router.routes):
        return None
    query = scope.get("query_string", b"").decode("latin-1")
    return str(URL(other["path"] + (f"?{query}" if query else "")))
