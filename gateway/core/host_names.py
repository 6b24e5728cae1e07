"""Host names as the gateway compares them: ``SLUICE_ALLOWED_HOSTS`` checked once, and a
request's ``Host`` header read the same way (``gateway.web.allowed_hosts``).

One spelling a name: lower case, no trailing dot, IPv6 without brackets, an address in
its compressed form — so ``LOCALHOST.``, ``[::1]:8000`` and ``::1`` compare as the
names they are. The allow-list holds exact names only: a wildcard or a whole URL there
would be a typo that answers more than meant, so it stops the start.
"""

from __future__ import annotations

import ipaddress
import re
from urllib.parse import urlsplit

LOOPBACK_HOSTS = frozenset({"localhost", "127.0.0.1", "::1"})
_LABEL = r"(?!-)[a-z0-9_-]{1,63}(?<!-)"
_NAME = re.compile(rf"{_LABEL}(?:\.{_LABEL})*")


def canonical_host(value: str) -> str | None:
    """``value`` (a name or an IP address, IPv6 bracketed or not) in its one spelling,
    or None when it is neither."""
    name = value.strip().lower()
    if name.startswith("[") and name.endswith("]"):
        name = name[1:-1]
    try:
        return str(ipaddress.ip_address(name))
    except ValueError:
        pass
    name = name.removesuffix(".")
    return name if len(name) <= 253 and _NAME.fullmatch(name) else None


def host_of_header(value: str) -> str | None:
    """The name a ``Host`` header holds (``name[:port]``, ``[v6][:port]``), in its one
    spelling; None when it holds no name."""
    value = value.strip()
    if value.startswith("["):
        name, bracket, rest = value[1:].partition("]")
        if not bracket:
            return None
    else:
        name, colon, port = value.partition(":")
        rest = colon + port
    if rest and not (rest.startswith(":") and rest[1:].isdigit()):
        return None
    return canonical_host(name) if name else None


def allowed_host(value: str) -> str:
    """One ``SLUICE_ALLOWED_HOSTS`` item in its one spelling; ``ValueError`` naming what
    is wrong."""
    name = canonical_host(value)
    if name is None:
        raise ValueError(f"SLUICE_ALLOWED_HOSTS: {value.strip()!r} is not a host name or "
                         "IP address (no scheme, port, path or wildcard)")  # fmt: skip
    return name


def configured_hosts(public_url: str | None, allowed: tuple[str, ...]) -> frozenset[str]:
    """The names the settings allow: ``SLUICE_PUBLIC_URL``'s host and the list."""
    names = set(allowed)
    host = urlsplit(public_url).hostname if public_url else None
    if host and (name := canonical_host(host)):
        names.add(name)
    return frozenset(names)


def answered_names(public_url: str | None, allowed: tuple[str, ...], bind_host: str) -> str:
    """The ``Host`` names a gateway bound to ``bind_host`` answers, as ``sluice serve``
    prints them: an operator whose users reach it by a name not listed sees why they
    get 400 before anyone calls. A wildcard bind answers the loopback names too, on a
    request that reached a loopback address (``gateway.web.allowed_hosts``)."""
    names = set(configured_hosts(public_url, allowed))
    try:
        address = ipaddress.ip_address(bind_host.strip("[]"))
        loopback, everywhere = address.is_loopback, address.is_unspecified
    except ValueError:
        loopback, everywhere = bind_host == "localhost", False
    if loopback:
        names |= LOOPBACK_HOSTS
    reached = "the IP address reached"
    if everywhere:
        reached += " (the loopback names on a loopback address)"
    shown = ", ".join(sorted(names))
    return f"{shown}, and {reached}" if shown else f"no name; {reached}"
