"""Attacks on token validation: every one must end in 401 ``unauthenticated``, with the
token never echoed back, and no token may make the gateway fetch anything."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from fastapi import FastAPI
from joserfc.jwk import OKPKey

from catalog.errors import Unauthenticated
from catalog.models import User
from gateway.auth import EMBEDDED_ISSUER, StaticJwks, TokenValidator
from gateway.core.settings import load_settings
from gateway.web.app import create_app
from tests.gateway.asgi_client import get
from tests.gateway.jwt_helpers import (
    JwksServer,
    b64url,
    ed25519_signer,
    forge,
    rsa_signer,
)

ATTACKER = Ed25519PrivateKey.generate()
ATTACKER_JWK = {
    **OKPKey.import_key(ATTACKER.public_key()).as_dict(),
    "kid": "attacker",
    "alg": "EdDSA",
}


class Target:
    """The running app plus what an attacker could know: kid, public key, claims shape."""

    def __init__(self, app: FastAPI, attacker_url: str) -> None:
        self.app = app
        self.attacker_url = attacker_url
        key = app.state.services.authenticator.signing_key
        self.kid: str = key.kid
        self.private: Ed25519PrivateKey = key.key.private_key
        self.public_pem = self.private.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )

    def claims(self, **overrides: Any) -> dict[str, Any]:
        now = int(time.time())
        base = {
            "sub": "alice",
            "dept": "fin",
            "roles": ["analyst"],
            "clearance": "L3",
            "jurisdiction": ["4301"],
            "iss": EMBEDDED_ISSUER,
            "aud": "sluice",
            "iat": now,
            "nbf": now,
            "exp": now + 600,
            "jti": "j1",
        }
        base.update(overrides)
        return {k: v for k, v in base.items() if v is not None}

    def header(self, **overrides: Any) -> dict[str, Any]:
        base = {"alg": "EdDSA", "kid": self.kid, "typ": "JWT", **overrides}
        return {k: v for k, v in base.items() if v is not None}

    def sign(self, header: dict[str, Any] | None = None, **claims: Any) -> str:
        return forge(header or self.header(), self.claims(**claims), ed25519_signer(self.private))


@pytest.fixture(scope="module")
def attacker_server() -> Iterator[JwksServer]:
    server = JwksServer()
    server.document = {"keys": [ATTACKER_JWK]}
    with server.running():
        yield server


@pytest.fixture(scope="module")
def target(tmp_path_factory: pytest.TempPathFactory, attacker_server: JwksServer) -> Target:
    home: Path = tmp_path_factory.mktemp("attacks")
    app = create_app(load_settings(home=home))
    with app.state.services.sessions() as session, session.begin():  # the store knows alice
        session.add(User(subject="alice", display_name="Alice", clearance="L2", jurisdiction=[]))
    return Target(app, attacker_server.url)


def _hs256(secret: bytes) -> Callable[[bytes], bytes]:
    return lambda msg: hmac.new(secret, msg, hashlib.sha256).digest()


def _none_token(t: Target, alg: str, signature: str = "") -> str:
    header = b64url(json.dumps(t.header(alg=alg)).encode())
    body = f"{header}.{b64url(json.dumps(t.claims()).encode())}"
    return f"{body}.{signature}"


def _tampered(t: Target) -> str:
    header, _payload, signature = t.sign().split(".")
    evil = b64url(json.dumps(t.claims(roles=["admin"], clearance="L4")).encode())
    return f"{header}.{evil}.{signature}"


def _duplicate_alg(t: Target) -> str:
    raw_header = f'{{"alg":"EdDSA","kid":"{t.kid}","alg":"none"}}'.encode()
    signing_input = f"{b64url(raw_header)}.{b64url(json.dumps(t.claims()).encode())}"
    return f"{signing_input}.{b64url(t.private.sign(signing_input.encode()))}"


def _attacker_signed(t: Target, **header: Any) -> str:
    hdr = {"alg": "EdDSA", "kid": "attacker", **header}
    return forge(hdr, t.claims(), ed25519_signer(ATTACKER))


ATTACKS: dict[str, Callable[[Target], str]] = {
    "alg none": lambda t: _none_token(t, "none"),
    "alg None": lambda t: _none_token(t, "None"),
    "alg NONE": lambda t: _none_token(t, "NONE"),
    "alg nOnE with signature": lambda t: _none_token(t, "nOnE", b64url(b"x" * 64)),
    "alg eddsa lower case": lambda t: t.sign(t.header(alg="eddsa")),
    "HS256 keyed with public PEM": lambda t: forge(
        t.header(alg="HS256"), t.claims(), _hs256(t.public_pem)
    ),
    "HS256 keyed with raw public key": lambda t: forge(
        t.header(alg="HS256"),
        t.claims(),
        _hs256(t.private.public_key().public_bytes_raw()),
    ),
    "RS256 with the Ed25519 kid": lambda t: forge(
        t.header(alg="RS256"),
        t.claims(),
        rsa_signer(rsa.generate_private_key(public_exponent=65537, key_size=2048)),
    ),
    "wrong issuer": lambda t: t.sign(iss="https://evil.example"),
    "wrong audience": lambda t: t.sign(aud="other-service"),
    "audience list without us": lambda t: t.sign(aud=["a", "b"]),
    "expired": lambda t: t.sign(exp=int(time.time()) - 3600),
    "not yet valid": lambda t: t.sign(nbf=int(time.time()) + 3600),
    "issued in the future": lambda t: t.sign(iat=int(time.time()) + 3600),
    "missing exp": lambda t: t.sign(exp=None),
    "exp not a number": lambda t: t.sign(exp="never"),
    "missing iss": lambda t: t.sign(iss=None),
    "missing aud": lambda t: t.sign(aud=None),
    "missing sub": lambda t: t.sign(sub=None),
    "clearance not a level": lambda t: t.sign(clearance="L9"),
    "unknown kid": lambda t: t.sign(t.header(kid="no-such-key")),
    "kid with a path": lambda t: t.sign(t.header(kid="../../keys/issuer/signing-key.pem")),
    "kid absolute path": lambda t: t.sign(t.header(kid="/dev/null")),
    "kid with SQL": lambda t: t.sign(t.header(kid="x' OR '1'='1' --")),
    "kid not a string": lambda t: t.sign(t.header(kid=0)),
    "missing kid": lambda t: t.sign(t.header(kid=None)),
    "jku to attacker JWKS": lambda t: _attacker_signed(t, jku=t.attacker_url),
    "x5u to attacker": lambda t: _attacker_signed(t, x5u=t.attacker_url),
    "jku with our kid": lambda t: _attacker_signed(t, jku=t.attacker_url, kid=t.kid),
    "inline jwk": lambda t: _attacker_signed(t, jwk=ATTACKER_JWK),
    "inline jwk with our kid": lambda t: _attacker_signed(t, jwk=ATTACKER_JWK, kid=t.kid),
    "x5c chain": lambda t: _attacker_signed(t, x5c=["MIIB"], kid=t.kid),
    "crit header": lambda t: t.sign(t.header(crit=["exp"], exp=1)),
    "b64 false (unencoded payload)": lambda t: t.sign(t.header(b64=False, crit=["b64"])),
    "unknown header parameter": lambda t: t.sign(t.header(zip="DEF")),
    "typ not a JWT": lambda t: t.sign(t.header(typ="JWE")),
    "signed by another key with our kid": lambda t: forge(
        t.header(), t.claims(), ed25519_signer(Ed25519PrivateKey.generate())
    ),
    "tampered payload": _tampered,
    "signature stripped": lambda t: t.sign().rsplit(".", 1)[0] + ".",
    "signature truncated": lambda t: t.sign()[:-10],
    "duplicate alg member": _duplicate_alg,
    "two segments": lambda t: ".".join(t.sign().split(".")[:2]),
    "four segments": lambda t: t.sign() + ".e30",
    "header not JSON": lambda t: "bm90LWpzb24." + t.sign().split(".", 1)[1],
    "header a JSON list": lambda t: b64url(b"[1]") + "." + t.sign().split(".", 1)[1],
    "oversized": lambda t: t.sign(pad="x" * 20_000),
    "non-ascii": lambda t: t.sign() + "é",
}


@pytest.mark.parametrize("attack", sorted(ATTACKS))
def test_attack_is_rejected(target: Target, attack: str) -> None:
    token = ATTACKS[attack](target)
    authorization = f"Bearer {token}".encode()  # bytes: a header may carry non-ASCII
    response = get(target.app, "/api/v1/me", headers={"Authorization": authorization})
    assert response.status_code == 401, response.text
    body = response.json()
    assert body["code"] == "unauthenticated"
    assert token not in response.text
    assert token.split(".")[0] not in body["message"]


def test_control_token_is_accepted(target: Target) -> None:
    """The forging helpers make valid tokens when nothing is wrong (so the attacks above
    fail for the reason they test, not because the helper is broken)."""
    response = get(target.app, "/api/v1/me", headers={"Authorization": f"Bearer {target.sign()}"})
    assert response.status_code == 200
    assert response.json()["subject"] == "alice"


def test_key_pointing_headers_cause_no_fetch(
    target: Target, attacker_server: JwksServer, tmp_path: Path
) -> None:
    """Also with a remote JWKS configured: jku/x5u never reach the attacker, and the
    header is rejected before the legitimate JWKS is even consulted."""
    legit = JwksServer()
    with legit.running():
        settings = load_settings(
            home=tmp_path, oidc_issuer=EMBEDDED_ISSUER, oidc_jwks_url=legit.url
        )
        app = create_app(settings)
        for header in ({"jku": target.attacker_url}, {"x5u": target.attacker_url}):
            token = _attacker_signed(target, **header)
            response = get(app, "/api/v1/me", headers={"Authorization": f"Bearer {token}"})
            assert response.status_code == 401
        assert legit.requests == []
    for attack in ("jku to attacker JWKS", "x5u to attacker", "jku with our kid"):
        get(
            target.app, "/api/v1/me", headers={"Authorization": f"Bearer {ATTACKS[attack](target)}"}
        )
    assert attacker_server.requests == []


def test_classic_rsa_key_confusion_is_rejected() -> None:
    """HS256 with the RSA public key (PEM, as published) as the HMAC secret."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    numbers = key.public_key().public_numbers()
    jwk = {
        "kty": "RSA",
        "kid": "r1",
        "n": b64url(numbers.n.to_bytes(256, "big")),
        "e": b64url(numbers.e.to_bytes(3, "big")),
    }
    validator = TokenValidator(jwks=StaticJwks({"keys": [jwk]}), issuer="i", audience="a")
    now = int(time.time())
    claims = {"sub": "s", "iss": "i", "aud": "a", "exp": now + 60}
    assert validator.validate(forge({"alg": "RS256", "kid": "r1"}, claims, rsa_signer(key)))
    pem = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    for secret in (pem, pem.strip(), json.dumps(jwk).encode()):
        forged = forge({"alg": "HS256", "kid": "r1"}, claims, _hs256(secret))
        with pytest.raises(Unauthenticated):
            validator.validate(forged)
    with pytest.raises(ValueError):
        TokenValidator(
            jwks=StaticJwks({"keys": []}), issuer="i", audience="a", algorithms=["HS256"]
        )
