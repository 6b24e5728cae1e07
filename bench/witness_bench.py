"""Witnessing cost on the request path (issue 12): the same append hammer with and
without a remote witness (a real HTTP witness served by uvicorn on a free port).

The sender runs on its own thread and takes only the newest checkpoint, so the figure
to watch is the ratio of appends/s witnessed over not witnessed (≈1.0: off the path)
and the witness's lag (how far behind the head its newest countersigned seq is).
"""

from __future__ import annotations

import socket
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import uvicorn
from fastapi import FastAPI

from audit.log import AuditLog
from audit.signing import KeyRing
from audit.witness_book import WitnessBook
from gateway.web.routes import witness


def _witness_server(home: Path) -> tuple[str, uvicorn.Server, threading.Thread]:
    app = FastAPI()
    app.include_router(witness.router)
    book = WitnessBook(home=home, signer=KeyRing.in_home(home), name="bench-witness")
    app.state.services = SimpleNamespace(audit=SimpleNamespace(witness_book=book))
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    return f"http://127.0.0.1:{port}", server, thread


def witness_cost(
    *, url: str, hammer: Callable[[AuditLog, float], int], seconds: float
) -> dict[str, Any]:
    """Appends/s with checkpoints every second, without and with a remote witness."""
    out: dict[str, Any] = {}
    base = Path(tempfile.mkdtemp(prefix="sluice-bench-witness-"))
    url_witness, server, thread = _witness_server(base / "witness")
    try:
        for name, witnesses in (("not_witnessed", []), ("witnessed", [url_witness])):
            log = AuditLog.open(url=url, home=base / name, append_timeout_s=30,
                                checkpoint_seconds=1.0, witnesses=witnesses)  # fmt: skip
            try:
                n = hammer(log, seconds)
                head = log.writer.floor[0]
            finally:
                log.close()
            row: dict[str, Any] = {"appends_per_s": n / seconds,
                                   "checkpoints": log.metrics.checkpoints}  # fmt: skip
            if log.sender is not None:
                status = log.sender.statuses()[0]
                row.update(acked_seq=status["acked_seq"], head_seq=head,
                           failures=status["failures"])  # fmt: skip
            out[name] = row
    finally:
        server.should_exit = True
        thread.join(10)
    out["ratio"] = out["witnessed"]["appends_per_s"] / max(
        1e-9, out["not_witnessed"]["appends_per_s"]
    )
    return out
