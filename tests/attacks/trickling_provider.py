"""An OIDC provider in trouble, as its own process: ``python trickling_provider.py``.

Prints its base URL, then answers on loopback: the discovery document (naming this
server's ``/authorize`` and ``/token``) at once, or — as ``POST /mode/<what>`` said
last — trickled a byte every half second for ``TRICKLE_S``, as the token endpoint
always is: headers at once, then the body, each byte well inside any read timeout.
Standard library only, so it runs beside any test process.
"""

from __future__ import annotations

import json
import socket
import sys
import threading
import time

TRICKLE_S = 40.0
STEP_S = 0.5


class Provider:
    def __init__(self) -> None:
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.base = f"http://127.0.0.1:{self.listener.getsockname()[1]}"
        self.trickle_discovery = False

    def serve(self) -> None:
        while True:
            conn, _ = self.listener.accept()
            threading.Thread(target=self._answer, args=(conn,), daemon=True).start()

    def _answer(self, conn: socket.socket) -> None:
        try:
            head = b""
            while b"\r\n\r\n" not in head:
                chunk = conn.recv(65536)
                if not chunk:
                    return
                head += chunk
            path = head.split(b" ", 2)[1]
            if path.startswith(b"/mode/"):
                self.trickle_discovery = path == b"/mode/discovery"
                self._send(conn, b"{}")
            elif path.startswith(b"/.well-known/") and not self.trickle_discovery:
                self._send(conn, json.dumps({
                    "issuer": self.base, "authorization_endpoint": self.base + "/authorize",
                    "token_endpoint": self.base + "/token", "jwks_uri": self.base + "/jwks",
                }).encode())  # fmt: skip
            else:
                self._trickle(conn)
        except OSError:  # the gateway hung up: what it should do
            return
        finally:
            conn.close()

    @staticmethod
    def _send(conn: socket.socket, body: bytes) -> None:
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: "
                     b"%d\r\nConnection: close\r\n\r\n%s" % (len(body), body))  # fmt: skip

    @staticmethod
    def _trickle(conn: socket.socket) -> None:
        steps = int(TRICKLE_S / STEP_S)
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                     b"Content-Length: %d\r\nConnection: close\r\n\r\n" % steps)  # fmt: skip
        for _ in range(steps):
            time.sleep(STEP_S)
            conn.sendall(b" ")


if __name__ == "__main__":
    provider = Provider()
    print(provider.base, flush=True)
    sys.stdout.close()
    provider.serve()
