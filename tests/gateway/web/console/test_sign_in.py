"""Local accounts and console sessions: argon2 hashes, lockout after repeated failures,
every sign-in, failure and sign-out on the audit trail, sign-out that kills the cookie,
the idle timeout, and a suspension that ends the user's sessions at once."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from contextlib import closing
from datetime import UTC, datetime, timedelta

import httpx
from sqlalchemy import select

from audit.search import EventFilter, list_events
from gateway.web.console.passwords import LocalAccounts
from gateway.web.console.sessions import SESSION_COOKIE, SessionStore, Signer, console_key
from gateway.web.console.store import console_sessions, local_passwords
from tests import live_http
from tests.gateway.web.console.conftest import LiveConsole

_PRE = re.compile(r'name="csrf_token" value="([^"]+)"')


def _try(client: httpx.Client, subject: str, password: str) -> httpx.Response:
    token = _PRE.search(client.get("/console/sign-in").text)
    assert token is not None
    return client.post(
        "/console/sign-in",
        data={"csrf_token": token.group(1), "username": subject, "password": password},
    )


def _events(live: LiveConsole, type_: str, actor: str) -> list[dict[str, object]]:
    found: list[dict[str, object]] = []
    for _ in range(40):
        found = list_events(
            store=live.gw.services.audit.store,
            filters=EventFilter(actor=actor, type=type_),
            limit=100,
        )["items"]
        if found:
            break
        time.sleep(0.05)
    return found


def test_passwords_are_stored_as_argon2id_hashes(live: LiveConsole) -> None:
    with live.gw.services.engine.connect() as conn:
        stored = conn.execute(
            select(local_passwords.c.password_hash).where(local_passwords.c.subject == "alice")
        ).scalar_one()
    assert stored.startswith("$argon2id$")
    assert live.passwords["alice"] not in stored


def test_sign_in_and_sign_out_are_on_record_and_sign_out_kills_the_cookie(
    live: LiveConsole,
) -> None:
    client, csrf = live.sign_in("arthur")
    with closing(client):
        cookie = client.cookies[SESSION_COOKIE]
        assert client.post("/console/sign-out", data={"csrf_token": csrf}).status_code == 303
        assert client.get("/console").status_code == 303
        # a copy of the old cookie is worth nothing: the session row is gone
        with live.client() as replay:
            replay.cookies.set(SESSION_COOKIE, cookie)
            assert replay.get("/console").status_code == 303
            forged = cookie.rsplit(".", 1)[0] + ".AAAA"
            replay.cookies.set(SESSION_COOKIE, forged)
            assert replay.get("/console").status_code == 303
    signed_in = _events(live, "auth.signed_in", "arthur")
    assert signed_in and signed_in[0]["details"]["via"] == "password"  # type: ignore[index]
    assert _events(live, "auth.signed_out", "arthur")


def test_lockout_after_repeated_failures(live: LiveConsole) -> None:
    limit = live.console.settings.max_failures
    with live.client() as client:
        for _ in range(limit - 1):
            assert _try(client, "fiona", "wrong-password-123").status_code == 401
        locking = _try(client, "fiona", "wrong-password-123")
        assert locking.status_code == 403 and "锁定" in locking.text
        # locked: even the right password is refused while the lock holds
        assert _try(client, "fiona", live.passwords["fiona"]).status_code == 403
        unknown = _try(client, "nobody-here", "whatever-password")
        assert unknown.status_code == 401 and "用户名或密码不正确" in unknown.text
    failures = _events(live, "auth.sign_in_failed", "fiona")
    reasons = [e["details"]["reason"] for e in failures]  # type: ignore[index]
    assert reasons.count("wrong_password") == limit - 1 and "locked" in reasons
    anonymous = _events(live, "auth.sign_in_failed", "anonymous")
    assert any(e["details"].get("claimed") == "nobody-here" for e in anonymous)  # type: ignore[union-attr]
    # the lock ends by itself: a clock past it lets the right password in
    later = LocalAccounts(engine=live.gw.services.engine, max_failures=limit,
                          key=console_key(live.gw.settings.home),
                          clock=lambda: datetime.now(UTC) + timedelta(hours=1))  # fmt: skip
    assert later.check(subject="fiona", password=live.passwords["fiona"]).outcome == "ok"


def test_suspending_a_user_ends_their_sessions(live: LiveConsole) -> None:
    client, _csrf = live.sign_in("dora")
    with closing(client):
        assert client.get("/console").status_code == 200
        officer = {"Authorization": f"Bearer {live.gw.token('sam')}"}
        suspended = live_http.post(
            f"{live.base}/api/v1/users/dora/suspend",
            headers=officer,
            json={"reason": "bulk pull under review"},
            timeout=30,
        )
        assert suspended.status_code == 200, suspended.text
        refused = client.get("/console")
        assert refused.status_code == 303 and "m=disabled" in refused.headers["location"]
        with live.gw.services.engine.connect() as conn:
            left = conn.execute(
                select(console_sessions.c.subject).where(console_sessions.c.subject == "dora")
            ).all()
        assert left == []
        # and a suspended account cannot sign in again: its right password answers as a
        # wrong one (tests/attacks/test_anonymous_suspended_account_password_oracle.py)
        with live.client() as again:
            refused_again = _try(again, "dora", live.passwords["dora"])
            assert refused_again.status_code == 401 and "用户名或密码不正确" in refused_again.text


def test_an_idle_session_is_over(live: LiveConsole) -> None:
    engine = live.gw.services.engine
    signer = Signer(b"k" * 32)
    now = [datetime.now(UTC)]
    store = SessionStore(engine=engine, signer=signer, idle_timeout_s=300,
                         clock=lambda: now[0])  # fmt: skip
    cookie, _session = store.create(subject="alice", via="password")
    assert store.find(cookie) is not None
    now[0] += timedelta(seconds=200)
    assert store.find(cookie) is not None  # used: the idle clock starts again
    now[0] += timedelta(seconds=200)
    assert store.find(cookie) is not None  # 400 s old, 200 s idle
    now[0] += timedelta(seconds=301)
    assert store.find(cookie) is None
    assert store.find(cookie) is None  # and deleted
    assert store.find(cookie.rsplit(".", 1)[0] + ".forged") is None


def test_console_forms_are_bounded(live: LiveConsole) -> None:
    """A form post over the forms' bound is a 413, declared or streamed, before it is
    parsed (the middleware's larger bound is the backstop for any other body)."""
    from gateway.web.console.forms import MAX_FORM_BYTES

    big = "x" * (MAX_FORM_BYTES + 1)
    with closing(live.client()) as client:
        declared = client.post("/console/sign-in", data={"username": big, "password": "p"})
        assert declared.status_code == 413

        def chunks() -> Iterator[bytes]:
            for _ in range(MAX_FORM_BYTES // 4096 + 2):
                yield b"username=" + b"x" * 4096

        streamed = client.post(
            "/console/sign-in",
            content=chunks(),
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        )
        assert streamed.status_code == 413
