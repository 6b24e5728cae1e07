"""The TLS context of the gateway's outgoing HTTP clients, made once per process.

httpx builds a TLS context for every client it makes, and its default one parses
certifi's whole bundle: about 21 ms of CPU each time. An HTTP source's adapter makes its
client for each query that reads it, a webhook channel for each push: each paid that
before sending a byte. The context here is httpx's own default (``create_ssl_context``:
the same trust store, hostname check and certificate check), made at the first use and
shared; the environment's ``SSL_CERT_FILE`` / ``SSL_CERT_DIR`` (``trust_env``) are read
then, as a restart reads any other setting.
"""

from __future__ import annotations

import ssl
from functools import cache

import httpx


@cache
def default_tls(trust_env: bool) -> ssl.SSLContext:
    """httpx's default verifying context (``trust_env``: as the client's own setting)."""
    return httpx.create_ssl_context(trust_env=trust_env)
