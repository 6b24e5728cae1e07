"""The role decides the menu, the server decides access: every console page and form a
role may not use is refused by the server (403), whatever the menu showed; a
state-changing request without the session's CSRF token is refused; a refusal of a
signed-in caller is on record (``request.refused``)."""

from __future__ import annotations

import re
from contextlib import closing

import httpx
import pytest

from audit.search import EventFilter, list_events
from tests.gateway.web.console.conftest import LiveConsole

DIBAO = "civil.dibao_recipients"
FORM = {"fields": ["name", "region_code"], "purpose": "supervision", "case_ref": "JW-2026-077",
        "page_size": "20", "page": "1"}  # fmt: skip
# (method, path, roles that may use it); pages every signed-in user may open: home, catalog
MATRIX = [
    ("GET", "/console", {"alice", "carl", "sam", "root"}),
    ("GET", "/console/catalog", {"alice", "carl", "sam", "root"}),
    ("GET", f"/console/catalog/{DIBAO}", {"alice", "carl", "sam", "root"}),
    ("GET", "/console/query", {"alice"}),
    ("GET", f"/console/query/{DIBAO}", {"alice"}),
    ("POST", f"/console/query/{DIBAO}/preview", {"alice"}),
    ("POST", f"/console/query/{DIBAO}/download?format=csv", {"alice"}),
]


def _call(client: httpx.Client, method: str, path: str, csrf: str) -> httpx.Response:
    if method == "GET":
        return client.get(path)
    return client.post(path, data={**FORM, "csrf_token": csrf})


@pytest.mark.parametrize("subject", ["alice", "carl", "sam", "root"])
def test_each_role_is_refused_what_it_may_not_use(live: LiveConsole, subject: str) -> None:
    client, csrf = live.sign_in(subject)
    with closing(client):
        for method, path, allowed in MATRIX:
            answer = _call(client, method, path, csrf)
            if subject in allowed:
                assert answer.status_code == 200, (subject, method, path, answer.text[:300])
            else:
                assert answer.status_code == 403, (subject, method, path, answer.status_code)
                assert "text/html" in answer.headers["content-type"]
        # the menu shows only what the role may use
        menu = client.get("/console").text
        assert ('href="/console/query"' in menu) == (subject == "alice")
    refused = list_events(store=live.gw.services.audit.store,
                          filters=EventFilter(actor=subject, type="request.refused"),
                          limit=50)["items"]  # fmt: skip
    if subject != "alice":
        assert any(e["resource"] == "/console/query" for e in refused)


def test_posts_without_the_csrf_token_are_refused(live: LiveConsole) -> None:
    client, csrf = live.sign_in("alice")
    with closing(client):
        preview = f"/console/query/{DIBAO}/preview"
        assert client.post(preview, data=FORM).status_code == 403
        assert client.post(preview, data={**FORM, "csrf_token": "x" * 43}).status_code == 403
        other = {"Origin": "http://evil.example", "Sec-Fetch-Site": "cross-site"}
        assert client.post(preview, data={**FORM, "csrf_token": csrf},
                           headers=other).status_code == 403  # fmt: skip
        assert client.post("/console/sign-out", data={}).status_code == 403
        # the header htmx sends is as good as the form field
        assert client.post(preview, data=FORM, headers={"X-CSRF-Token": csrf}).status_code == 200
        assert client.get("/console").status_code == 200  # still signed in


def test_signed_out_callers_are_sent_to_sign_in(live: LiveConsole) -> None:
    with live.client() as client:
        for path in ("/console", "/console/catalog", f"/console/query/{DIBAO}"):
            answer = client.get(path)
            assert answer.status_code == 303 and answer.headers["location"].startswith(
                "/console/sign-in"
            )
        assert client.post(f"/console/query/{DIBAO}/preview", data=FORM).status_code == 303
        htmx = client.get("/console/catalog", headers={"HX-Request": "true"})
        assert htmx.status_code == 401 and htmx.headers["HX-Redirect"].startswith(
            "/console/sign-in"
        )
        assert client.get("/", follow_redirects=False).headers["location"] == "/console"


def test_security_headers(live: LiveConsole) -> None:
    with live.client() as client:
        page = client.get("/console/sign-in")
        csp = page.headers["content-security-policy"]
        assert "script-src 'self'" in csp and "'unsafe-inline'" not in csp
        assert "frame-ancestors 'none'" in csp
        assert page.headers["x-frame-options"] == "DENY"
        assert page.headers["referrer-policy"] == "same-origin"
        assert page.headers["cache-control"] == "no-store"
        cookie = page.headers["set-cookie"]
        assert "HttpOnly" in cookie and "SameSite=strict" in cookie.replace("Strict", "strict")
        # the API keeps its answers, with the frame and referrer headers added
        health = client.get("/healthz")
        assert health.status_code == 200 and health.headers["x-frame-options"] == "DENY"
        assert "content-security-policy" not in health.headers
        # the third-party front end is served by the gateway itself, by allow-list
        for name in ("htmx.min.js", "echarts.min.js", "pico.min.css"):
            asset = client.get(f"/console/vendor/{name}")
            assert asset.status_code == 200 and len(asset.content) > 1000, name
        assert client.get("/console/vendor/..%2Fpackage.json").status_code == 404
        assert client.get("/console/vendor/package.json").status_code == 404
        html = client.get("/console/sign-in").text
        assert not re.search(r"""(?:src|href)=["']?(?:https?:)?//""", html)


def test_openapi_names_the_bearer_scheme(live: LiveConsole) -> None:
    with live.client() as client:
        document = client.get("/openapi.json").json()
    assert document["components"]["securitySchemes"]["bearer"]["scheme"] == "bearer"
    query = document["paths"]["/api/v1/datasets/{dataset_id}/query"]["post"]
    assert query["security"] == [{"bearer": []}]
    entry = document["paths"]["/api/v1/catalog/{dataset_id}"]["get"]
    assert entry["security"] == [{}, {"bearer": []}]  # public, more with a token
    assert "security" not in document["paths"]["/api/v1/catalog"]["get"]
    assert not any(path.startswith("/console") for path in document["paths"])


def test_english_switch_is_remembered(live: LiveConsole) -> None:
    with live.client() as client:
        assert "登录" in client.get("/console/sign-in").text
        english = client.get("/console/sign-in", params={"lang": "en"})
        assert "Sign in" in english.text and 'lang="en"' in english.text
        assert "Sign in" in client.get("/console/sign-in").text  # the cookie remembers
        assert "登录" in client.get("/console/sign-in", params={"lang": "zh-CN"}).text
