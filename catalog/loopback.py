"""Whether a host names this machine: the settings' and the doctor's checks of where
mail, witnesses and the CLI's gateway may be reached in clear. One module of its own,
not the mail sender's, so loading the settings does not load SMTP, TLS and HTTP."""

from __future__ import annotations

import ipaddress

LOOPBACK_NAMES = frozenset({"localhost", "localhost.localdomain"})


def is_loopback(host: str) -> bool:
    """``localhost`` (any case) or a loopback address, bracketed IPv6 included."""
    if host.lower() in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False
