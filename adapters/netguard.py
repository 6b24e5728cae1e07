"""SSRF guard for every network source (HTTP, PostgreSQL, MySQL/MariaDB): which hosts
Sluice may connect to, and at which address.

Order of checks: (1) for HTTP, the URL — ``http``/``https`` only, a host, no
credentials in it (SQL URLs are parsed by ``adapters.sql_config``); (2) the host — if
it (or its normalised IP literal) is in the admin's allow-list
(``SLUICE_SOURCE_ALLOW_HOSTS``, the older ``SLUICE_HTTP_ALLOW_HOSTS`` merged in) every
address is accepted; (3) otherwise the host is resolved with ``getaddrinfo`` and
**every** address must be public: loopback, private, link-local (``169.254.169.254``),
shared (``100.64.0.0/10``, e.g. ``100.100.100.200``), reserved, multicast and
unspecified addresses are refused, including IPv4 embedded in IPv6
(``::ffff:127.0.0.1``, 6to4, Teredo, NAT64). Integer and hex/octal spellings
(``2130706433``, ``0x7f.1``) resolve to the address they denote and are judged by it.

``resolve_checked`` is the one policy for every kind: it resolves once and returns the
addresses that passed; callers connect to the first of them (SQL: psycopg ``hostaddr``,
pymysql ``host=`` the address). ``check_url`` returns a ``Target`` holding the address
that was checked; the HTTP client connects to exactly that address (Host header and TLS
SNI keep the name), so a DNS answer that changes between the check and the connection
(rebinding) cannot redirect the request. Each redirect hop and each next-page link goes
through ``check_url`` again.
"""

from __future__ import annotations

import ipaddress
import socket
import urllib.parse
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass

from catalog.errors import BadRequest, Forbidden

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Resolver = Callable[[str, int], Sequence[str]]

_NAT64 = ipaddress.ip_network("64:ff9b::/96")
_SHARED = ipaddress.ip_network("100.64.0.0/10")
ALLOW_SETTING = "SLUICE_SOURCE_ALLOW_HOSTS"


@dataclass(frozen=True)
class Target:
    """A checked URL and the one address the connection must go to."""

    url: str
    scheme: str
    host: str
    port: int
    address: str

    @property
    def origin(self) -> tuple[str, str, int]:
        return (self.scheme, self.host, self.port)


def system_resolver(host: str, port: int) -> list[str]:
    """Every address ``host`` resolves to, through the system resolver."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return [str(info[4][0]) for info in infos]


def _embedded_v4(ip: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    if ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    if ip.sixtofour is not None:
        return ip.sixtofour
    if ip.teredo is not None:
        return ip.teredo[1]
    if ip in _NAT64:
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    return None


def is_public(ip: IPAddress) -> bool:
    """True only for globally routable unicast addresses."""
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.scope_id:
            return False
        inner = _embedded_v4(ip)
        if inner is not None:
            return is_public(inner)
    if isinstance(ip, ipaddress.IPv4Address) and ip in _SHARED:
        return False
    return ip.is_global and not (
        ip.is_multicast
        or ip.is_loopback
        or ip.is_link_local
        or ip.is_reserved
        or ip.is_unspecified
        or ip.is_private
    )


def _literal(host: str) -> IPAddress | None:
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        return None


def _allowed(host: str, allow_hosts: Collection[str]) -> bool:
    allowed = {normalise_host(h) for h in allow_hosts if h.strip()}
    if host in allowed:
        return True
    literal = _literal(host)
    return literal is not None and any(_literal(a) == literal for a in allowed)


def parse_url(url: object) -> tuple[str, str, int]:
    """(scheme, host, port) of an http(s) URL; ``BadRequest`` for anything else."""
    if not isinstance(url, str) or not url or len(url) > 4096:
        raise BadRequest("the URL must be a non-empty string")
    if any(ch in url for ch in "\x00\r\n\t ") or "\\" in url:
        raise BadRequest("the URL contains whitespace, control characters or backslashes")
    parts = urllib.parse.urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme not in {"http", "https"}:
        raise BadRequest(f"only http and https URLs are allowed, not {scheme or 'none'!r}")
    if parts.username is not None or parts.password is not None:
        raise BadRequest("credentials do not belong in the URL; put them in the secret")
    host = (parts.hostname or "").rstrip(".")
    if not host:
        raise BadRequest("the URL has no host")
    try:
        port = parts.port or (443 if scheme == "https" else 80)
    except ValueError:
        raise BadRequest("the URL has an invalid port") from None
    return scheme, host.lower(), port


def normalise_host(host: str) -> str:
    """The host as compared and resolved: lower case, no brackets, no trailing dot."""
    return host.strip().lower().strip("[]").rstrip(".")


def resolve(host: str, port: int, resolver: Resolver = system_resolver) -> tuple[str, ...]:
    """Every address ``host`` resolves to, normalised (no zone id, canonical text), in
    the resolver's order without duplicates; ``BadRequest`` if it does not resolve."""
    try:
        found = list(resolver(host, port))
    except (OSError, UnicodeError):
        raise BadRequest(f"the host {host!r} does not resolve") from None
    addresses: list[str] = []
    for raw in found:
        try:
            text = str(ipaddress.ip_address(raw.split("%", 1)[0]))
        except ValueError:
            continue
        if text not in addresses:
            addresses.append(text)
    if not addresses:
        raise BadRequest(f"the host {host!r} does not resolve")
    return tuple(addresses)


def address_allowed(host: str, address: str, allow_hosts: Collection[str]) -> bool:
    """True if the policy lets a connection to ``host`` go to ``address``: the host is
    allow-listed (by name or literal), or the address is public."""
    if _allowed(normalise_host(host), allow_hosts):
        return True
    try:
        return is_public(ipaddress.ip_address(address))
    except ValueError:
        return False


def resolve_checked(
    host: str, port: int, allow_hosts: Collection[str], resolver: Resolver = system_resolver
) -> tuple[str, ...]:
    """Resolve ``host`` and apply the policy to **every** address; ``Forbidden`` if one
    is not public and the host is not allow-listed. Connect to the first address."""
    host = normalise_host(host)
    if not host:
        raise BadRequest("the source has no host")
    addresses = resolve(host, port, resolver)
    for address in addresses:
        if not address_allowed(host, address, allow_hosts):
            raise Forbidden(
                f"the host {host!r} resolves to a non-public address ({address}); an admin "
                f"must allow this host ({ALLOW_SETTING}) before it can be used"
            )
    return addresses


def check_url(
    url: object, allow_hosts: Collection[str], resolver: Resolver = system_resolver
) -> Target:
    """Check ``url`` and choose the address to connect to; raise ``BadRequest`` for a
    malformed URL, ``Forbidden`` for a refused address, ``BadRequest`` if the name
    does not resolve."""
    scheme, host, port = parse_url(url)
    addresses = resolve_checked(host, port, allow_hosts, resolver)
    return Target(url=str(url), scheme=scheme, host=host, port=port, address=addresses[0])
