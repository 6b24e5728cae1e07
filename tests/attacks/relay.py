"""A TCP relay on this machine's LAN address to a local server: to the gateway, a server
on another address with the same data behind it, the way a port forward, a pooler or a
second DNS name would be (red teams 7 and 10)."""

from __future__ import annotations

import contextlib
import socket
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path

from tests.gateway.demo_app import DemoGateway, demo_gateway


def lan_address() -> str:
    found = subprocess.run(["hostname", "-I"], capture_output=True, text=True, check=True)
    for address in found.stdout.split():
        if "." in address and not address.startswith("127."):
            return address
    raise AssertionError(f"no non-loopback IPv4 address on this machine: {found.stdout!r}")


def _pipe(src: socket.socket, dst: socket.socket) -> None:
    with contextlib.suppress(OSError):
        while data := src.recv(65536):
            dst.sendall(data)
    with contextlib.suppress(OSError):
        dst.shutdown(socket.SHUT_WR)


@contextlib.contextmanager
def relay(address: str, upstream: tuple[str, int]) -> Iterator[int]:
    """A TCP relay listening on ``address`` (any free port) to ``upstream``."""
    server = socket.create_server((address, 0))
    server.settimeout(0.2)
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                client, _ = server.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            remote = socket.create_connection(upstream)
            for a, b in ((client, remote), (remote, client)):
                threading.Thread(target=_pipe, args=(a, b), daemon=True).start()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield server.getsockname()[1]
    finally:
        stop.set()
        thread.join()
        server.close()


@contextlib.contextmanager
def gateway_behind_relay(
    home: Path, database_url: str | None
) -> Iterator[tuple[DemoGateway, str, int]]:
    """A demo gateway (its catalog at ``database_url``, the embedded one for None) that
    allows sources on 127.0.0.1 and on the LAN address, and a relay there to the local
    PostgreSQL server: the gateway, the LAN address and the relay's port."""
    address = lan_address()
    with (
        relay(address, ("127.0.0.1", 5432)) as port,
        demo_gateway(
            home, database_url=database_url, source_allow_hosts=[address, "127.0.0.1"]
        ) as gw,  # fmt: skip
    ):
        yield gw, address, port
