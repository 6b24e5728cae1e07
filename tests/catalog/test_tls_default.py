"""The outgoing clients' one TLS context (``catalog.tls_default``): made once, and as
strict as httpx's own default (sharing it must not loosen a check)."""

from __future__ import annotations

import ssl

import httpx

from adapters.http_fetch import GuardedClient
from catalog.tls_default import default_tls


def test_the_context_is_made_once_and_verifies_as_httpx_does() -> None:
    ctx = default_tls(trust_env=False)
    assert default_tls(trust_env=False) is ctx
    reference = httpx.create_ssl_context(trust_env=False)
    assert ctx.verify_mode == reference.verify_mode == ssl.CERT_REQUIRED
    assert ctx.check_hostname is reference.check_hostname is True
    assert ctx.cert_store_stats() == reference.cert_store_stats()  # the same trust store


def test_an_adapter_client_takes_the_shared_context() -> None:
    clients = [GuardedClient(origin=("https", "example.org", 443), headers={},
                             base_url="https://example.org/", allow_hosts=[], timeout_s=5)
               for _ in range(2)]  # fmt: skip
    contexts = {id(c._client._transport._pool._ssl_context) for c in clients}
    assert contexts == {id(default_tls(trust_env=False))}
