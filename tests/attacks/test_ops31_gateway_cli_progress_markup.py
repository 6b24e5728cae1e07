"""ops31's left row, as whoever answers the gateway's URL (a hostile or compromised
gateway the analyst's CLI is pointed at) against the analyst's terminal: rich markup in
what the gateway says.

``sluice compare run --wait`` shows the run's progress on stderr through rich. Since
ops31 the gateway's text there goes through ``shown`` (controls escaped), but rich's
``TextColumn`` reads its text as markup: a run id (or status) like ``[bold red]…[/]`` or
``[link=http://…]…[/link]`` was interpreted — styles and hyperlinks (OSC 8) written to
the terminal that the gateway chose, its text hidden, a link that shows one thing and
opens another.

Attack: a gateway started here answers the run with such an id, its status (done) and
its hit list, to a real ``sluice compare run --wait`` process with a terminal's colours
forced: both progress bars (the run's, the hit list's download) show the id.

Expected: the text is shown as it was sent, brackets and all; no escape sequence.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

HOSTILE = "[link=http://evil.example/]cr_1[/link][bold red]x[/]"


class _Gateway(BaseHTTPRequestHandler):
    """The run, at once: queued, then done with one hit, then its hit list (CSV)."""

    def _send(self, status: int, data: bytes, *headers: tuple[str, str]) -> None:
        self.send_response(status)
        for name, value in (("Content-Length", str(len(data))), *headers):
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self._send(202, json.dumps({"id": HOSTILE, "status": "queued"}).encode())

    def do_GET(self) -> None:
        if "/hits" in self.path:  # the hit list, saved with its own progress bar
            self._send(200, b"name\nx\n", ("Sluice-Truncated", "false"))
            return
        view = {"id": HOSTILE, "status": "done", "progress": 1.0, "hits": 1}
        self._send(200, json.dumps(view).encode())

    def log_message(self, *_args: object) -> None:
        return


@pytest.fixture
def gateway() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Gateway)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def test_the_run_progress_shows_the_gateways_text_not_its_markup(
    gateway: str, tmp_path: Path
) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SLUICE_")}
    env.update({"SLUICE_URL": gateway, "SLUICE_TOKEN": "t0ken", "FORCE_COLOR": "1",
                "COLUMNS": "200", "TERM": "xterm-256color"})  # fmt: skip
    env.pop("NO_COLOR", None)
    done = subprocess.run(
        [sys.executable, "-m", "gateway.cli.main", "compare", "run", "demo.payroll_on_dibao",
         "--purpose", "supervision", "--case-ref", "JW-OPS31", "--wait",
         "-o", str(tmp_path / "hits.csv")],
        env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "\x1b]8;" not in done.stderr, repr(done.stderr)  # no hyperlink
    assert "\x1b[1;31mx" not in done.stderr, repr(done.stderr)  # no style it chose
    bars = [line for line in done.stderr.splitlines() if "━" in line]
    assert len(bars) >= 2 and all(HOSTILE in bar for bar in bars), repr(done.stderr)
