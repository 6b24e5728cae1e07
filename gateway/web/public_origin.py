"""The base URL of the links the gateway publishes about itself — never the Host header.

The DCAT catalog's IRIs (entries, the query service, publishers) and the redirect URI
the console sends an identity provider name the gateway. Starlette's ``base_url`` and
``url_for`` take the host from the request's ``Host`` header, which any client writes
as it likes: a forged one put the attacker's site into the published catalog (served to
every harvester by a cache keyed without the host) and into the redirect URI (red team
29). The base is ``SLUICE_PUBLIC_URL`` when set; otherwise the address the request
reached — the listening socket's own address (``scope["server"]``, uvicorn's
``getsockname``), with the scheme uvicorn took (``X-Forwarded-Proto`` only from
``SLUICE_TRUSTED_PROXIES``). Behind a reverse proxy, set ``SLUICE_PUBLIC_URL``.
"""

from __future__ import annotations

from fastapi import Request

from gateway.web.deps import get_services

DEFAULT_PORTS = {"http": 80, "https": 443}


def public_base_url(request: Request) -> str:
    """``scheme://host[:port]/path/`` of this gateway, ending in ``/``."""
    configured = get_services(request).settings.public_url
    if configured:
        return configured
    scheme = request.url.scheme if request.url.scheme in DEFAULT_PORTS else "http"
    server = request.scope.get("server")
    host, port = ("localhost", None) if not server or server[1] is None else server
    if ":" in str(host):
        host = f"[{host}]"
    netloc = str(host) if port in (None, DEFAULT_PORTS[scheme]) else f"{host}:{port}"
    root = str(request.scope.get("root_path", "")).rstrip("/")
    return f"{scheme}://{netloc}{root}/"


def public_url_for(request: Request, name: str) -> str:
    """The absolute URL of the route ``name`` under ``public_base_url``."""
    path = request.app.url_path_for(name)
    return public_base_url(request) + str(path).lstrip("/")


def served_over_https(request: Request) -> bool:
    """Whether the browser reaches the gateway over https: the request's own scheme, or
    ``SLUICE_PUBLIC_URL``'s. Behind a proxy that terminates TLS the request is plain
    http unless the proxy is trusted and says otherwise; a cookie marked ``Secure`` by
    the first test alone went without it there, and travelled in clear to any
    ``http://`` URL of the same name (red team 34)."""
    configured = get_services(request).settings.public_url or ""
    return request.url.scheme == "https" or configured.lower().startswith("https://")
