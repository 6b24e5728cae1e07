"""The names the gateway answers to: a ``Host`` allow-list against DNS rebinding.

A page on ``attacker.example`` whose name the attacker rebinds to the gateway's address
(127.0.0.1 on the machine of a user running ``sluice serve``, an intranet address) is
same-origin with the gateway for the browser: it reads the answers and posts the forms,
and without ``SLUICE_PUBLIC_URL`` the console's Origin check can only compare ``Origin``
with that same ``Host`` (red team 30, the thirty-fourth pass). So a request is answered
only when its ``Host`` names this gateway:

- ``SLUICE_PUBLIC_URL``'s host (behind a reverse proxy, the ``Host`` it forwards) and
  ``SLUICE_ALLOWED_HOSTS``;
- the IP address the request reached (the listening socket's own, ``scope["server"]``,
  as ``public_origin`` reads it): an address is no name anyone can rebind;
- on a loopback socket, ``localhost``, ``127.0.0.1`` and ``::1``.

Anything else — no ``Host``, or more than one — is a 400 before any route runs: JSON
under the API, the console's error page under ``/console``. The port is not compared (a
rebinding page names the gateway's port as well). A pure ASGI wrapper, not Starlette's
``TrustedHostMiddleware``: that one is given its list once (this one reads the settings,
which tests change in place) and answers a plain-text 400 the API's clients cannot read
as one of its errors.
"""

from __future__ import annotations

import ipaddress

from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from catalog.errors import BadRequest
from gateway.core.host_names import LOOPBACK_HOSTS, configured_hosts, host_of_header
from gateway.core.settings import Settings
from gateway.web.console.guard import error_page
from gateway.web.errors import ErrorResponse

REFUSAL = (
    "the Host header names no address of this gateway (its SLUICE_PUBLIC_URL, "
    "SLUICE_ALLOWED_HOSTS, or the address reached)"
)


def reached_hosts(scope: Scope) -> frozenset[str]:
    """The names of the address this request reached: itself when it is an IP address
    (the socket's own), with the loopback names when it is a loopback one."""
    server = scope.get("server")
    try:
        address = ipaddress.ip_address(str(server[0])) if server else None
    except ValueError:  # no socket address (a test transport's name, a Unix socket)
        return frozenset()
    if address is None:
        return frozenset()
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    own = frozenset({str(address)})
    return own | LOOPBACK_HOSTS if address.is_loopback else own


class HostAllowList:
    """Refuses (400) a request whose ``Host`` names no address of this gateway."""

    def __init__(self, app: ASGIApp, settings: Settings) -> None:
        self.app = app
        self.settings = settings
        self._key: tuple[str | None, tuple[str, ...]] | None = None
        self._names: frozenset[str] = frozenset()

    def configured(self) -> frozenset[str]:
        """``configured_hosts`` of the settings as they are now, worked out again only
        when they changed."""
        key = (self.settings.public_url, tuple(self.settings.allowed_hosts))
        if key != self._key:
            self._names, self._key = configured_hosts(*key), key
        return self._names

    def allows(self, scope: Scope) -> bool:
        """One ``Host`` header (RFC 9112: more is a 400), naming this gateway. Read as a
        dict, two headers let the last pass the check while Starlette's ``request.url``
        (the console's own origin, the router's trailing-slash redirect) took the
        first: ``Host: evil.example`` then ``Host: 127.0.0.1`` was answered with a
        redirect to ``http://evil.example/…`` (red team 35)."""
        hosts = [value for key, value in scope.get("headers") or [] if key == b"host"]
        if len(hosts) != 1:
            return False
        name = host_of_header(hosts[0].decode("latin-1"))
        return name is not None and (name in self.configured() or name in reached_hosts(scope))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket") or self.allows(scope):
            await self.app(scope, receive, send)
            return
        if scope["type"] == "websocket":
            await send({"type": "websocket.close", "code": 1008})
            return
        response = await refusal(Request(scope, receive))
        await response(scope, receive, send)


async def refusal(request: Request) -> Response:
    """The 400 in the format of where it was sent: the console's error page, or the
    API's JSON error."""
    error = BadRequest(REFUSAL)
    path = str(request.scope.get("path", ""))
    if path == "/console" or path.startswith("/console/"):
        return await error_page(request, error.http_status, error.code, error, REFUSAL)
    return ErrorResponse(error.to_dict(), status_code=error.http_status)
