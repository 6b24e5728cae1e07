"""Console sign-in through an OIDC provider: the authorization-code flow with PKCE.

authlib builds the protocol messages (the authorization URL, the token request, the
S256 code challenge, random state and nonce); httpx carries them; the ID token is
checked by the gateway's own ``TokenValidator`` — the same hardened checks a bearer
token gets (allow-listed header, asymmetric algorithm, key by exact ``kid`` from the
JWKS URL in settings, ``iss``, ``exp``), with the console's client id as audience —
and then the nonce. Its claims are mapped by ``gateway.auth.claims.to_user_context``
with the configured claim names, exactly as for bearer tokens, and the identity
directory decides what the user may do (the provider authenticates, the store
authorises: a subject Sluice does not know is refused).

Endpoints come from the provider's discovery document, fetched from the configured
issuer only; the JWKS URL is the configured one, never the document's (nothing the
network says chooses where keys come from).

Each exchange with the provider (discovery, the code's exchange) is whole within
``timeout`` — connect, headers and body, on the shared deadline thread
(``catalog.http_deadline``), no connection kept — as the JWKS fetch is
(``gateway.auth.jwks``): httpx's timeout bounds each read, so a provider that trickled
its answer a byte every half second held a sign-in, its worker thread, and every other
sign-in queued behind the discovery's lock, for as long as it chose (rows32, ops31's
left row). A sign-in that finds another's discovery under way waits one bound at most.
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass
from typing import Any

import httpx
from authlib.common.security import generate_token
from authlib.oauth2.rfc6749.parameters import prepare_grant_uri, prepare_token_request
from authlib.oauth2.rfc7636 import create_s256_code_challenge

from catalog.errors import Unauthenticated, Unavailable
from catalog.http_read_within import BodyTooLarge, DeadlinePassed, read_within
from gateway.auth.claims import ClaimNames, to_user_context
from gateway.auth.jwks import GRACE_S, RemoteJwks
from gateway.auth.validator import TokenValidator
from policies.decision import UserContext

MAX_RESPONSE_BYTES = 256 * 1024
EXCHANGE_S = 10.0  # one exchange with the provider, whole


class ProviderJwks(RemoteJwks):
    """The provider's JWKS, which can also say its one key's id (see below)."""

    def only_kid(self) -> str | None:
        """The id of the provider's key when it publishes exactly one, else None."""
        self.get("")  # fetches when stale (an unknown kid never matches)
        keys = list(self._keys)
        return keys[0] if len(keys) == 1 else None


class IdTokenValidator(TokenValidator):
    """The bearer tokens' validator, every check unchanged, but for one case: an ID token
    whose header names no ``kid`` (providers may omit it when they have one key) is
    checked against the provider's key if it publishes exactly one. With several keys a
    missing ``kid`` is refused as before — nothing is tried key by key."""

    def __init__(self, *, jwks: ProviderJwks, issuer: str, audience: str) -> None:
        super().__init__(jwks=jwks, issuer=issuer, audience=audience)
        self._provider_jwks = jwks

    def _check_header(self, header: dict[str, Any]) -> tuple[str, str]:
        if "kid" not in header:
            only = self._provider_jwks.only_kid()
            if only is not None:
                header = {**header, "kid": only}
        return super()._check_header(header)


@dataclass(frozen=True)
class Attempt:
    """What the browser's pre-sign-in cookie must bring back to the callback."""

    state: str
    nonce: str
    verifier: str


class OidcClient:
    def __init__(
        self,
        *,
        issuer: str,
        jwks_url: str,
        client_id: str,
        client_secret: str | None,
        scope: str,
        claim_names: ClaimNames,
        http: httpx.Client | None = None,
        timeout: float = EXCHANGE_S,
    ) -> None:
        self.issuer = issuer
        self.client_id = client_id
        self._secret = client_secret
        self._scope = scope
        self._names = claim_names
        # no connection kept between exchanges: a deadline may cut only a socket it opened
        self._http = http or httpx.Client(
            timeout=timeout, follow_redirects=False,
            limits=httpx.Limits(max_keepalive_connections=0),
        )  # fmt: skip
        self._timeout = timeout
        self._validator = IdTokenValidator(jwks=ProviderJwks(jwks_url), issuer=issuer,
                                           audience=client_id)  # fmt: skip
        self._metadata: dict[str, Any] | None = None
        self._lock = threading.Lock()

    def _exchange(self, method: str, url: str, what: str, *, seconds: float | None = None,
                  **sent: Any) -> tuple[int, bytes]:  # fmt: skip
        """One request to the provider, whole within ``seconds`` (``timeout``): its
        status and body (read up to ``MAX_RESPONSE_BYTES``); ``Unavailable`` when it
        cannot be reached, answers too much or not in time."""
        try:
            return read_within(self._http, method, url, max_bytes=MAX_RESPONSE_BYTES,
                               seconds=self._timeout if seconds is None else seconds,
                               **sent)  # fmt: skip
        except BodyTooLarge:
            raise Unavailable(f"the identity provider's {what} is too large") from None
        except DeadlinePassed:
            raise Unavailable(f"the identity provider's {what} did not arrive in "
                              "time") from None  # fmt: skip
        except httpx.HTTPError:
            raise Unavailable("the identity provider cannot be reached") from None

    @staticmethod
    def _get_json(body: bytes, what: str) -> dict[str, Any]:
        try:
            document = json.loads(body)
        except ValueError:
            raise Unavailable(f"the identity provider's {what} is not JSON") from None
        if not isinstance(document, dict):
            raise Unavailable(f"the identity provider's {what} is not an object")
        return document

    def metadata(self) -> dict[str, Any]:
        """The discovery document (cached once it was fetched and checked)."""
        if self._metadata is not None:
            return self._metadata
        # one bound in all, another sign-in's fetch under way or not: waiting for its
        # lock, then fetching again, held a second sign-in two bounds (a queue, many)
        until = time.monotonic() + self._timeout + GRACE_S
        if not self._lock.acquire(timeout=self._timeout + GRACE_S):
            raise Unavailable("the identity provider's discovery document is late")
        try:
            if self._metadata is not None:
                return self._metadata
            left = min(self._timeout, until - time.monotonic())
            if left <= GRACE_S:
                raise Unavailable("the identity provider's discovery document is late")
            url = self.issuer.rstrip("/") + "/.well-known/openid-configuration"
            status, body = self._exchange("GET", url, "discovery document", seconds=left)
            if status != 200:
                raise Unavailable(f"the identity provider answered {status}")
            document = self._get_json(body, "discovery document")
            if document.get("issuer") != self.issuer:
                raise Unavailable("the identity provider's discovery names another issuer")
            for name in ("authorization_endpoint", "token_endpoint"):
                value = document.get(name)
                if not isinstance(value, str) or not value.startswith(("https://", "http://")):
                    raise Unavailable(f"the identity provider's {name} is missing")
            self._metadata = document
            return document
        finally:
            self._lock.release()

    def begin(self, *, redirect_uri: str) -> tuple[str, Attempt]:
        """The provider's authorization URL for a new attempt, and the attempt."""
        attempt = Attempt(state=generate_token(32), nonce=generate_token(32),
                          verifier=generate_token(64))  # fmt: skip
        url = prepare_grant_uri(
            self.metadata()["authorization_endpoint"], self.client_id, "code",
            redirect_uri=redirect_uri, scope=self._scope, state=attempt.state,
            nonce=attempt.nonce, code_challenge=create_s256_code_challenge(attempt.verifier),
            code_challenge_method="S256",
        )  # fmt: skip
        return str(url), attempt

    def finish(self, *, code: str, redirect_uri: str, attempt: Attempt) -> UserContext:
        """Exchange the code (with the PKCE verifier), check the ID token and its nonce,
        map its claims; ``Unauthenticated`` for anything the provider got wrong."""
        body = prepare_token_request(
            "authorization_code", code=code, redirect_uri=redirect_uri,
            code_verifier=attempt.verifier, client_id=self.client_id,
        )  # fmt: skip
        # a confidential client authenticates (client_secret_basic); PKCE binds the code
        endpoint = self.metadata()["token_endpoint"]
        headers = {"Content-Type": "application/x-www-form-urlencoded",
                   "Accept": "application/json"}  # fmt: skip
        auth = httpx.BasicAuth(self.client_id, self._secret) if self._secret else None
        status, answer = self._exchange("POST", endpoint, "token response", content=body,
                                        headers=headers, auth=auth)  # fmt: skip
        if status != 200:
            raise Unauthenticated(f"the identity provider refused the code ({status})")
        id_token = self._get_json(answer, "token response").get("id_token")
        if not isinstance(id_token, str):
            raise Unauthenticated("the identity provider sent no ID token")
        claims = self._validator.validate(id_token)
        if claims.get("nonce") != attempt.nonce:
            raise Unauthenticated("invalid token: nonce does not match this sign-in")
        return to_user_context(claims, self._names)
