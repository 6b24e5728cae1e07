"""Issue 14, journey 5: sign-in through a real OIDC provider process (the PyPI
``oidc-provider-mock`` server, started here on a loopback port): the authorization-code
flow with PKCE and a nonce, the ID token checked by the gateway's validator, its claims
mapped as for bearer tokens, and the user store deciding who may come in."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect

from audit.search import EventFilter, list_events
from tests import live_http
from tests.gateway.demo_app import DemoGateway, demo_gateway
from tests.gateway.web.console.conftest import serve

CLIENT_ID = "sluice-console"
USERS = [
    {"sub": "alice", "dept": None, "roles": ["analyst"], "clearance": "L3",
     "jurisdiction": ["430121"]},
    {"sub": "olga"},  # the provider knows her; Sluice does not
    {"sub": "carl", "clearance": "L9"},  # a claim the mapping refuses
]  # fmt: skip


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextmanager
def provider() -> Iterator[str]:
    port = _free_port()
    args = [sys.executable, "-m", "oidc_provider_mock", "--port", str(port),
            "--require-nonce"]  # fmt: skip
    for user in USERS:
        args += ["--user-claims", json.dumps(user)]
    process = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    issuer = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                if live_http.get(issuer + "/.well-known/openid-configuration").status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.1)
        else:
            pytest.fail("the OIDC provider did not start")
        yield issuer
    finally:
        process.terminate()
        process.wait(10)


@contextmanager
def oidc_demo_gateway(home: Path) -> Iterator[DemoGateway]:
    """A demo gateway whose console signs in through a real provider process."""
    with provider() as issuer:
        # a confidential client (the provider's token endpoint takes client_secret_basic
        # only), with PKCE on top as for a public one
        os.environ["SLUICE_CONSOLE_OIDC_CLIENT_ID"] = CLIENT_ID
        os.environ["SLUICE_CONSOLE_OIDC_CLIENT_SECRET"] = "console-test-secret"
        try:
            with demo_gateway(home, oidc_issuer=issuer,
                              oidc_jwks_url=issuer + "/jwks") as gw:  # fmt: skip
                yield gw
        finally:
            del os.environ["SLUICE_CONSOLE_OIDC_CLIENT_ID"]
            del os.environ["SLUICE_CONSOLE_OIDC_CLIENT_SECRET"]


@pytest.fixture(scope="module")
def oidc_gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, DemoGateway]]:
    with oidc_demo_gateway(tmp_path_factory.mktemp("oidc")) as gw:
        for base in serve(gw):
            yield base, gw


def _through_provider(page: Page, base: str, subject: str) -> list[str]:
    asked: list[str] = []
    page.on("request", lambda r: asked.append(r.url) if "/oauth2/authorize" in r.url else None)
    page.goto(base + "/console/sign-in")
    expect(page.get_by_label("用户名")).to_have_count(0)  # no local password with OIDC
    page.get_by_role("button", name="通过统一身份认证登录").click()
    page.get_by_role("button", name=subject, exact=True).click()
    return asked


def test_sign_in_through_the_provider(oidc_gateway: tuple[str, DemoGateway],
                                      browser: Browser) -> None:  # fmt: skip
    base, gw = oidc_gateway
    page = browser.new_page(locale="zh-CN")
    try:
        asked = _through_provider(page, base, "alice")
        page.wait_for_url(base + "/console")
        expect(page.get_by_role("heading", level=1)).to_contain_text("alice")
        # the identity that governs is the store's (alice's county), not the token's word
        expect(page.locator("p.identity")).to_contain_text("430121")
        query = parse_qs(urlparse(asked[0]).query)
        assert query["code_challenge_method"] == ["S256"] and len(query["code_challenge"][0]) == 43
        assert query["nonce"][0] and query["state"][0] and query["client_id"] == [CLIENT_ID]
        page.get_by_role("link", name="数据目录", exact=True).click()
        expect(page.locator("#results")).to_contain_text("城乡低保对象名册")
    finally:
        page.close()
    signed = list_events(store=gw.services.audit.store,
                         filters=EventFilter(actor="alice", type="auth.signed_in"),
                         limit=10)["items"]  # fmt: skip
    assert signed and signed[0]["details"]["via"] == "oidc"


@pytest.mark.parametrize(("subject", "notice"), [
    ("olga", "Sluice 中没有该用户"),  # authenticated, not provisioned: refused
    ("carl", "统一身份认证登录失败"),  # a malformed claim rejects the token
])  # fmt: skip
def test_the_store_and_the_claims_decide(
    oidc_gateway: tuple[str, DemoGateway], browser: Browser, subject: str, notice: str
) -> None:
    base, _gw = oidc_gateway
    page = browser.new_page(locale="zh-CN")
    try:
        _through_provider(page, base, subject)
        page.wait_for_url(f"{base}/console/sign-in?m=*")
        expect(page.get_by_role("alert")).to_contain_text(notice)
        assert page.context.cookies(base) == [] or all(
            c["name"] != "sluice_console" for c in page.context.cookies(base)
        )
    finally:
        page.close()


def test_a_forged_callback_signs_nobody_in(oidc_gateway: tuple[str, DemoGateway]) -> None:
    base, _gw = oidc_gateway
    with httpx.Client(base_url=base, follow_redirects=False) as client:
        answer = client.get("/console/oidc/callback", params={"code": "x", "state": "y"})
        assert answer.status_code == 303 and "oidc_failed" in answer.headers["location"]
        assert (
            client.post(
                "/console/sign-in", data={"username": "alice", "password": "x" * 16}
            ).status_code
            == 403
        )
