"""``SLUICE_PUBLIC_URL``: the gateway's address as its users reach it, checked once.

Every link the gateway publishes about itself (the DCAT catalog's IRIs, the redirect URI
the console sends an identity provider) is joined to this base, so it must be an origin
and a path only: a user name and password, a query or a fragment would be copied into
every link (and a password into a public document).
"""

from __future__ import annotations

from urllib.parse import urlsplit, urlunsplit


def normalise_public_url(value: str) -> str:
    """``value`` as ``scheme://host[:port]/path/`` (ending in ``/``); ``ValueError``
    naming what is wrong (never quoting the value, which could hold a password)."""
    try:
        parts = urlsplit(value.strip())
        port = parts.port  # ValueError when not a number in range
    except ValueError:
        raise ValueError("SLUICE_PUBLIC_URL is not a URL") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError("SLUICE_PUBLIC_URL must be http(s)://host[:port][/path]")
    if parts.username is not None or parts.password is not None:
        raise ValueError("SLUICE_PUBLIC_URL cannot hold a user name or password")
    if parts.query or parts.fragment or "?" in value or "#" in value:
        raise ValueError("SLUICE_PUBLIC_URL cannot hold a query or a fragment")
    if any(c.isspace() or ord(c) < 0x20 or c == "\x7f" for c in value.strip()):
        raise ValueError("SLUICE_PUBLIC_URL cannot hold spaces or control characters")
    host = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
    netloc = host if port is None else f"{host}:{port}"
    path = parts.path.rstrip("/") + "/"
    return urlunsplit((parts.scheme, netloc, path, "", ""))
