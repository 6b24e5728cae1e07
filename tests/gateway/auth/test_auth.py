"""Authentication: embedded issuer, JWKS route, /api/v1/me, `sluice token`, claim
mapping, and RemoteJwks against a real loopback JWKS server (rotation, rate limit)."""

from __future__ import annotations

import stat
import time
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from fastapi import FastAPI
from joserfc.jwk import ECKey
from sqlalchemy.orm import Session

from catalog.errors import Unauthenticated, Unavailable
from catalog.models import Department, User
from gateway.auth import (
    EMBEDDED_ISSUER,
    ClaimNames,
    RemoteJwks,
    StaticJwks,
    TokenValidator,
    load_or_create_signing_key,
    mint_token,
    to_user_context,
)
from gateway.auth.keys import issuer_key_path
from gateway.cli.main import cli
from gateway.core.settings import load_settings
from gateway.web.app import create_app
from tests.gateway.asgi_client import get
from tests.gateway.jwt_helpers import JwksServer, b64url, es256_signer, forge, rsa_signer
from tests.migrated import with_migrated_catalog


def add_user(app: FastAPI, subject: str = "alice", department: str | None = "fin") -> User:
    with app.state.services.sessions() as session, session.begin():
        assert isinstance(session, Session)
        if department is not None and session.get(Department, department) is None:
            session.add(Department(code=department, name_zh="财政局", name_en="Finance"))
            session.flush()
        user = User(
            subject=subject,
            display_name=subject.title(),
            department=department,
            clearance="L3",
            jurisdiction=["4301"],
            roles=["analyst"],
        )
        session.add(user)
    # roles that govern come from casbin, not from the row's copy nor the token
    app.state.services.authorizer.assign(subject=subject, role="analyst", domain="*")
    return user


@pytest.fixture
def app(tmp_path: Path) -> FastAPI:
    return create_app(with_migrated_catalog(load_settings(home=tmp_path)))


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_me_with_minted_token(app: FastAPI) -> None:
    user = add_user(app)
    auth = app.state.services.authenticator
    token = mint_token(user=user, key=auth.signing_key, issuer=auth.issuer, audience="sluice")
    response = get(app, "/api/v1/me", headers=bearer(token))
    assert response.status_code == 200
    assert response.json() == {
        "subject": "alice",
        "department": "fin",
        "roles": ["analyst"],
        "clearance": "L3",
        "jurisdiction": ["4301"],
    }


@pytest.mark.parametrize("header", [None, "", "Bearer", "Bearer ", "Basic abc", "Bearer a b"])
def test_missing_or_malformed_authorization_is_401(app: FastAPI, header: str | None) -> None:
    headers = {} if header is None else {"Authorization": header}
    response = get(app, "/api/v1/me", headers=headers)
    assert response.status_code == 401
    assert response.json()["code"] == "unauthenticated"
    assert response.headers["WWW-Authenticate"] == "Bearer"


def test_jwks_route_publishes_public_key_only(app: FastAPI, tmp_path: Path) -> None:
    document = get(app, "/.well-known/jwks.json").json()
    (jwk,) = document["keys"]
    assert "d" not in jwk
    assert jwk["kty"] == "OKP" and jwk["crv"] == "Ed25519" and jwk["alg"] == "EdDSA"
    key = load_or_create_signing_key(tmp_path)
    assert jwk["kid"] == key.kid == key.key.thumbprint()


def test_signing_key_is_private_and_stable(tmp_path: Path) -> None:
    first = load_or_create_signing_key(tmp_path)
    path = issuer_key_path(tmp_path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert load_or_create_signing_key(tmp_path).kid == first.kid
    path.chmod(0o644)
    with pytest.raises(PermissionError):
        load_or_create_signing_key(tmp_path)


def test_token_valid_within_leeway_and_not_beyond(app: FastAPI) -> None:
    user = add_user(app)
    auth = app.state.services.authenticator
    now = time.time()
    late = mint_token(
        user=user, key=auth.signing_key, issuer=auth.issuer, audience="sluice", ttl=60, now=now - 75
    )  # expired 15 s ago: inside the 30 s leeway
    auth.authenticate(f"Bearer {late}")
    stale = mint_token(
        user=user,
        key=auth.signing_key,
        issuer=auth.issuer,
        audience="sluice",
        ttl=60,
        now=now - 120,
    )
    with pytest.raises(Unauthenticated, match="expired"):
        auth.authenticate(f"Bearer {stale}")


def test_sluice_token_cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SLUICE_HOME", str(tmp_path))
    app = create_app(with_migrated_catalog(load_settings(home=tmp_path)))
    add_user(app, "alice")
    runner = CliRunner()
    result = runner.invoke(cli, ["token", "alice", "--ttl", "120"])
    assert result.exit_code == 0, result.output
    token = result.stdout.strip()  # stderr carries logs
    assert token.count(".") == 2 and "\n" not in token
    claims = app.state.services.authenticator.validator.validate(token)
    assert claims["exp"] - claims["iat"] == 120
    assert claims["iss"] == EMBEDDED_ISSUER and claims["aud"] == "sluice"
    assert get(app, "/api/v1/me", headers=bearer(token)).json()["subject"] == "alice"

    unknown = runner.invoke(cli, ["token", "mallory"])
    assert unknown.exit_code != 0
    assert "unknown user 'mallory'" in unknown.output and "alice" in unknown.output


def test_claim_mapping_with_configured_names() -> None:
    names = ClaimNames(
        department="org", roles="realm_access.roles", clearance="lvl", jurisdiction="regions"
    )
    claims: dict[str, Any] = {
        "sub": "u1",
        "org": "audit",
        "realm_access": {"roles": ["steward"]},
        "lvl": "L2",
        "regions": "4301 4302",
    }
    user = to_user_context(claims, names)
    assert (user.department, user.roles, user.clearance, user.jurisdiction) == (
        "audit",
        ("steward",),
        "L2",
        ("4301", "4302"),
    )
    bare = to_user_context({"sub": "u2"}, names)
    assert (bare.department, bare.roles, bare.clearance, bare.jurisdiction) == (None, (), "L1", ())
    for bad in ({"lvl": "L9"}, {"lvl": 3}, {"realm_access": {"roles": [1]}}, {"org": ""}):
        with pytest.raises(Unauthenticated):
            to_user_context({"sub": "u3", **bad}, names)


def _rsa_jwk(key: rsa.RSAPrivateKey, kid: str) -> dict[str, Any]:
    numbers = key.public_key().public_numbers()
    n = numbers.n.to_bytes((numbers.n.bit_length() + 7) // 8, "big")
    e = numbers.e.to_bytes(3, "big")
    return {"kty": "RSA", "n": b64url(n), "e": b64url(e), "kid": kid, "alg": "RS256"}


def _claims(**overrides: Any) -> dict[str, Any]:
    now = int(time.time())
    return {
        "sub": "kc-user",
        "iss": "https://idp.test/realms/x",
        "aud": "sluice",
        "iat": now,
        "nbf": now,
        "exp": now + 300,
        **overrides,
    }


def test_remote_jwks_rotation_and_refetch_limit() -> None:
    old = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    new = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    server = JwksServer()
    server.document = {"keys": [_rsa_jwk(old, "k1")]}
    with server.running():
        jwks = RemoteJwks(server.url, min_refresh_interval=3600)
        validator = TokenValidator(jwks=jwks, issuer="https://idp.test/realms/x", audience="sluice")
        good = forge({"alg": "RS256", "kid": "k1", "typ": "JWT"}, _claims(), rsa_signer(old))
        assert validator.validate(good)["sub"] == "kc-user"
        assert len(server.requests) == 1
        validator.validate(good)
        assert len(server.requests) == 1  # cached

        # the provider rotates: k2 appears; a k2 token triggers exactly one refetch
        server.document = {"keys": [_rsa_jwk(old, "k1"), _rsa_jwk(new, "k2")]}
        jwks._attempted_at = None  # the refetch interval has passed
        rotated = forge({"alg": "RS256", "kid": "k2"}, _claims(), rsa_signer(new))
        assert validator.validate(rotated)["sub"] == "kc-user"
        assert len(server.requests) == 2

        # a flood of unknown kids causes no further requests within the interval
        for i in range(20):
            bogus = forge({"alg": "RS256", "kid": f"nope-{i}"}, _claims(), rsa_signer(new))
            with pytest.raises(Unauthenticated, match="unknown signing key"):
                validator.validate(bogus)
        assert len(server.requests) == 2


def test_remote_jwks_es256_and_unreachable_provider() -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    jwk = {**ECKey.import_key(key.public_key()).as_dict(), "kid": "e1"}
    server = JwksServer()
    server.document = {"keys": [jwk]}
    with server.running():
        validator = TokenValidator(
            jwks=RemoteJwks(server.url), issuer="https://idp.test/realms/x", audience="sluice"
        )
        token = forge(
            {"alg": "ES256", "kid": "e1"}, _claims(aud=["other", "sluice"]), es256_signer(key)
        )
        assert validator.validate(token)["sub"] == "kc-user"
    down = RemoteJwks(server.url, timeout=0.5)  # server stopped: fail closed with 503
    with pytest.raises(Unavailable):
        down.get("e1")


def test_static_jwks_ignores_weak_and_non_signing_keys() -> None:
    weak = rsa.generate_private_key(public_exponent=65537, key_size=1024)
    strong = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    jwks = StaticJwks(
        {
            "keys": [
                _rsa_jwk(weak, "weak"),
                {**_rsa_jwk(strong, "enc"), "use": "enc"},
                _rsa_jwk(strong, "ok"),
                {"kty": "oct", "k": "c2VjcmV0", "kid": "sym"},
            ]
        }
    )
    assert jwks.get("weak") is None and jwks.get("enc") is None and jwks.get("sym") is None
    assert jwks.get("ok") is not None
