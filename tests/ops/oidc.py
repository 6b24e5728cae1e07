"""An OIDC provider's side of token validation, as a production gateway sees it: a JWKS
served over HTTP and tokens signed with its key under its issuer name.

The gateway reads only ``sub`` from a token (identity is read fresh from its own store),
so the other claims are whatever the subject's store row would say; none govern.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from types import SimpleNamespace

from joserfc.jwk import OKPKey

from gateway.auth.issuer import mint_token
from gateway.auth.keys import SigningKey
from tests.gateway.jwt_helpers import JwksServer

AUDIENCE = "sluice"


@dataclass
class Provider:
    issuer: str
    jwks_url: str
    key: SigningKey

    def token(self, subject: str, ttl: int = 900) -> str:
        user = SimpleNamespace(subject=subject, department=None, clearance="L1", roles=[],
                               jurisdiction=[])  # fmt: skip
        return mint_token(user=user, key=self.key, issuer=self.issuer, audience=AUDIENCE,
                          ttl=ttl)  # fmt: skip

    def headers(self, subject: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token(subject)}"}

    def settings(self) -> dict[str, str]:
        return {"SLUICE_OIDC_ISSUER": self.issuer, "SLUICE_OIDC_JWKS_URL": self.jwks_url,
                "SLUICE_OIDC_AUDIENCE": AUDIENCE}  # fmt: skip


@contextmanager
def provider() -> Iterator[Provider]:
    raw = OKPKey.generate_key("Ed25519", private=True)
    key = SigningKey(key=raw, kid=raw.thumbprint())
    server = JwksServer()
    server.document = {"keys": [key.public_jwk()]}
    with server.running():
        yield Provider(issuer=server.url.rsplit("/", 1)[0], jwks_url=server.url, key=key)
