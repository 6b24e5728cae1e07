"""``sluice serve`` and other ``sluice`` commands as separate processes, with exactly the
settings given (no ``SLUICE_*`` leaks in from the test's own environment)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

from tests import live_http


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def environment(settings: dict[str, str]) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SLUICE_")}
    env.update(settings)
    return env


def sluice(
    *args: str, settings: dict[str, str], timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    """Run one ``sluice`` command to its end."""
    return subprocess.run([sys.executable, "-m", "gateway.cli.main", *args],
                          env=environment(settings), capture_output=True, text=True,
                          timeout=timeout, check=False)  # fmt: skip


@dataclass
class Served:
    """One ``sluice serve`` process; its output goes to a file (a busy access log would
    fill a pipe nobody reads)."""

    name: str
    proc: subprocess.Popen[bytes]
    base: str
    log: Path

    @property
    def alive(self) -> bool:
        return self.proc.poll() is None

    def output(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace")

    def wait_ready(self, timeout: float = 90) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not self.alive:
                raise RuntimeError(f"{self.name} exited early:\n{self.output()[-3000:]}")
            try:
                if live_http.get(f"{self.base}/healthz", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        raise TimeoutError(f"{self.name} not ready in {timeout} s:\n{self.output()[-3000:]}")

    def stop(self) -> None:
        """SIGINT (what systemd sends with KillSignal=SIGINT), then SIGKILL after 30 s."""
        self.interrupt()
        self.reap()

    def interrupt(self) -> None:
        if self.alive:
            self.proc.send_signal(signal.SIGINT)

    def reap(self) -> None:
        """Wait for the process to end after ``interrupt``; SIGKILL after 30 s."""
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()

    def kill(self) -> None:
        self.proc.kill()  # SIGKILL: no shutdown code runs
        self.proc.wait()


def stop_all(served: list[Served]) -> None:
    """``stop`` every replica, their SIGINTs sent together (as stopping a deployment's
    units does): the graceful shutdowns run side by side, not one after another."""
    for replica in served:
        replica.interrupt()
    for replica in served:
        replica.reap()


def serve(name: str, settings: dict[str, str], directory: Path, *, workers: int = 1) -> Served:
    port = free_port()
    log = directory / f"{name}.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "gateway.cli.main", "serve", "--port", str(port),
             "--workers", str(workers)],
            env=environment(settings), stdout=out, stderr=subprocess.STDOUT,
        )  # fmt: skip
    return Served(name=name, proc=proc, base=f"http://127.0.0.1:{port}", log=log)
