"""Start and stop the bench gateway (``bench.server``) as its own process."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx

from bench import data

PORT = 8765
BASE = f"http://127.0.0.1:{PORT}"


class Gateway:
    """A running ``bench.server``; ``tokens`` holds alice's and arthur's bearer tokens."""

    def __init__(self, *, embedded: bool = False, port: int = PORT, code: Path | None = None,
                 catalog_db: str = data.CATALOG_DB) -> None:  # fmt: skip
        """``code``: the checkout whose gateway runs (default: this one; ``bench.ab``
        runs an older commit beside it); ``catalog_db``: its own PostgreSQL catalog."""
        self.home = Path(tempfile.mkdtemp(prefix="sluice-bench-"))
        self.embedded = embedded
        self.base = f"http://127.0.0.1:{port}"
        if not embedded:
            # the source tables (a fresh machine has none: every query would fail with
            # source_failed and a profile or A/B would measure only the failure path)
            data.ensure_demo(lambda _line: None)
            data.recreate(catalog_db)
        self.log = (self.home / "server.log").open("wb")
        extra = ["--embedded"] if embedded else ["--catalog-db", catalog_db]
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "bench.server",
                "--home",
                str(self.home),
                "--port",
                str(port),
                *extra,
            ],
            stdout=self.log,
            stderr=subprocess.STDOUT,
            cwd=code or Path(__file__).resolve().parent.parent,
        )
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"bench server exited; see {self.home / 'server.log'}")
            try:
                if httpx.get(f"{self.base}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.3)
        else:
            raise RuntimeError("bench server did not start within 300 s")
        self.tokens: dict[str, str] = json.loads((self.home / "tokens.json").read_text())

    @property
    def pid(self) -> int:
        return self.proc.pid

    def counters(self) -> dict[str, int]:
        return httpx.get(f"{self.base}/bench/counters", timeout=10).json()

    def cpu_s(self) -> float:
        """CPU seconds the gateway has used (user + system, every thread), its alert rule
        process included (``sluice serve`` runs the rules in a child): per request, the
        figure neighbours on a shared machine disturb least."""
        return sum(_cpu_s(pid) for pid in (self.pid, *_children(self.pid)))

    def rss_mb(self) -> float:
        for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
        return 0.0

    def close(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        self.log.close()


class RssSampler:
    """Samples a process's RSS every few milliseconds; ``peak`` over the window."""

    def __init__(self, gateway: Gateway, every_s: float = 0.005) -> None:
        self.gateway = gateway
        self.every_s = every_s
        self.start_mb = gateway.rss_mb()
        self.peak_mb = self.start_mb
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak_mb = max(self.peak_mb, self.gateway.rss_mb())
            time.sleep(self.every_s)

    def __enter__(self) -> RssSampler:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()

    @property
    def growth_mb(self) -> float:
        return self.peak_mb - self.start_mb


def cpu_count() -> int:
    return len(os.sched_getaffinity(0))


def _cpu_s(pid: int) -> float:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except FileNotFoundError:  # a child that just ended
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _children(pid: int) -> list[int]:
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            found += [int(c) for c in (task / "children").read_text().split()]
        except FileNotFoundError:
            continue
    return found
