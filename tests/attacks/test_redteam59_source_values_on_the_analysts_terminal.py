"""Red team 59, as whoever writes a partner source's rows (a field of a registration
form, the partner department's database), against the analyst's terminal.

Attack: a dibao roll row's ``status`` — an L1 field every analyst reads in clear — holds
an OSC 52 clipboard write and an 8-bit CSI. dora runs ``sluice query
civil.dibao_recipients --fields status --format csv`` (or ``json``) in her terminal, as
the README shows, with no ``--out``: the rows went to standard output byte for byte,
and her terminal ran the sequences (the clipboard set to a command; a line of the
result erased and rewritten). ``json`` escapes C0 controls but writes C1 raw; ``csv``
writes everything raw. The client already refuses the binary formats on a terminal,
and escapes every message of the gateway's (the twenty-seventh pass).

Expected: on a terminal, the text formats' control characters arrive escaped (as
``\\uXXXX``); to a file or a pipe the bytes stay exactly as the gateway sent them.

On the embedded SQLite default, through a real uvicorn gateway and a pseudo-terminal.
"""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from catalog.demo.tables import DEPARTMENT_FILES
from tests.attacks.pseudo_terminal import on_a_terminal
from tests.attacks.test_redteam24_steward_terminal_text import CONTROL
from tests.gateway.cli.client_gateway import Served, served

__all__ = ["served"]

DIBAO = "civil.dibao_recipients"
HOSTILE = "active\x1b]52;c;cm0gLXJmIH4=\x07\u009b2K"
CASE = ["--purpose", "supervision", "--case-ref", "JW-RT59-TTY"]


@pytest.fixture
def hostile_row(served: Served) -> Iterator[None]:
    path = Path(served.gw.settings.demo_data_dir) / DEPARTMENT_FILES["civil"]
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        first = conn.execute("SELECT rowid, status FROM dibao_recipients ORDER BY rowid LIMIT 1")
        rowid, status = first.fetchone()
        conn.execute("UPDATE dibao_recipients SET status = ? WHERE rowid = ?", (HOSTILE, rowid))
        yield
        conn.execute("UPDATE dibao_recipients SET status = ? WHERE rowid = ?", (status, rowid))
    finally:
        conn.close()


def _on_a_terminal(served: Served, fmt: str) -> bytes:
    """``sluice query`` with its standard output on a pseudo-terminal; what it wrote."""
    args = ["query", DIBAO, "--fields", "status", *CASE, "--limit", "3", "--format", fmt]
    return on_a_terminal(args, {**os.environ, **served.env()}, timeout=60)


@pytest.mark.parametrize("fmt", ["csv", "json", "ndjson"])
def test_source_values_reach_a_terminal_escaped(
    served: Served, hostile_row: None, fmt: str
) -> None:
    out = _on_a_terminal(served, fmt).decode("utf-8", "replace")
    assert "active" in out, out
    lines = out.replace("\r\n", "\n")  # the terminal's own line discipline adds the \r
    assert not CONTROL.search(lines), ascii(out)
    assert "\\u001b]52" in out, ascii(out)  # shown, escaped: the analyst still sees it


def test_to_a_pipe_the_bytes_are_the_gateways(served: Served, hostile_row: None) -> None:
    env = {**os.environ, **served.env()}
    args = [sys.executable, "-m", "gateway.cli.main", "query", DIBAO, "--fields", "status",
            *CASE, "--limit", "3", "--format", "csv_raw"]  # fmt: skip
    done = subprocess.run(args, env=env, capture_output=True, timeout=60,
                          cwd=Path(__file__).resolve().parents[2])  # fmt: skip
    assert done.returncode == 0, done.stderr.decode()
    assert HOSTILE.encode() in done.stdout
