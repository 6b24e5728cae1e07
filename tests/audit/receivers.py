"""Local alert receivers for the tests: an HTTP webhook receiver (which can be told to
fail its first N posts) and a real SMTP server (aiosmtpd in a thread), both on loopback.
"""

from __future__ import annotations

import queue
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email import message_from_bytes
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import orjson
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword


@dataclass
class Webhook:
    url: str
    got: queue.Queue[tuple[dict[str, str], bytes]]
    fail_first: int = 0  # answer 503 to the first posts of each alert, this many
    posts: int = 0
    per_alert: dict[str, int] = field(default_factory=dict)  # posts seen, by alert id
    lock: threading.Lock = field(default_factory=threading.Lock)

    def alerts(self, timeout: float = 20.0, want: Callable[[dict[str, Any]], bool] = bool
               ) -> list[dict[str, Any]]:  # fmt: skip
        """Alerts received (generic flavor) until one passes ``want`` or the polling
        bound passes (a bound on waiting, not an assertion on time)."""
        out: list[dict[str, Any]] = []
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                _headers, body = self.got.get(timeout=0.2)
            except queue.Empty:
                continue
            alert = orjson.loads(body)["alert"]
            out.append(alert)
            if want(alert):
                break
        return out


@contextmanager
def webhook_receiver(fail_first: int = 0, *, delay_s: float = 0.0) -> Iterator[Webhook]:
    """A local webhook; ``delay_s``: how long it takes before answering each post."""
    hook = Webhook(url="", got=queue.Queue(), fail_first=fail_first)

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            try:
                aid = str(orjson.loads(body)["alert"]["id"])
            except (orjson.JSONDecodeError, KeyError, TypeError):
                aid = ""  # a robot flavor's payload: counted together
            with hook.lock:
                hook.posts += 1
                hook.per_alert[aid] = hook.per_alert.get(aid, 0) + 1
                failing = hook.per_alert[aid] <= hook.fail_first
            time.sleep(delay_s)  # a slow receiver: each push takes this long
            if failing:
                self.send_response(503)
                self.end_headers()
                return
            hook.got.put((dict(self.headers.items()), body))
            self.send_response(200)
            self.end_headers()
            self.wfile.write(b"{}")

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    hook.url = f"http://127.0.0.1:{server.server_address[1]}/hook"
    try:
        yield hook
    finally:
        server.shutdown()
        server.server_close()


@dataclass
class Mailbox:
    host: str
    port: int
    got: queue.Queue[tuple[str, list[str], Message]]
    logins: list[tuple[str, str]] = field(default_factory=list)

    def messages(self, timeout: float = 20.0, want: Callable[[Message], bool] = bool
                 ) -> list[tuple[str, list[str], Message]]:  # fmt: skip
        out: list[tuple[str, list[str], Message]] = []
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                item = self.got.get(timeout=0.2)
            except queue.Empty:
                continue
            out.append(item)
            if want(item[2]):
                break
        return out


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@contextmanager
def smtp_server(*, user: str | None = None, password: str | None = None) -> Iterator[Mailbox]:
    """A real SMTP server on loopback (aiosmtpd); with ``user``, AUTH is required before
    MAIL (over the plain connection: the test relay is on loopback)."""
    box = Mailbox(host="127.0.0.1", port=_free_port(), got=queue.Queue())

    class Handler:
        async def handle_MAIL(self, server: Any, session: Any, envelope: Any, address: str,
                              options: list[str]) -> str:  # fmt: skip
            if user is not None and not session.authenticated:
                return "530 5.7.0 Authentication required"
            envelope.mail_from = address
            return "250 OK"

        async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
            box.got.put((envelope.mail_from, list(envelope.rcpt_tos),
                         message_from_bytes(envelope.content)))  # fmt: skip
            return "250 OK"

    def authenticate(server: Any, session: Any, envelope: Any, mechanism: str,
                     auth_data: Any) -> AuthResult:  # fmt: skip
        if isinstance(auth_data, LoginPassword):
            login = (auth_data.login.decode(), auth_data.password.decode())
            box.logins.append(login)
            return AuthResult(success=login == (user, password), handled=False)
        return AuthResult(success=False, handled=False)

    kwargs: dict[str, Any] = {}
    if user is not None:
        # AUTH offered in clear (the relay is on loopback) and enforced at MAIL: aiosmtpd's
        # own auth_required would warn about the missing TLS
        kwargs = {"authenticator": authenticate, "auth_require_tls": False}
    controller = Controller(Handler(), hostname=box.host, port=box.port, **kwargs)
    controller.start()
    try:
        yield box
    finally:
        controller.stop()
