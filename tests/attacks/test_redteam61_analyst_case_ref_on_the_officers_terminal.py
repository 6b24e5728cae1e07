"""Red team 61, as an analyst, against the security officer's (or operator's) terminal.

Rule: text a hostile party controls reaches a human's terminal escaped (red team 59:
the doctor, the verifier, the catalog commands and a query's text result on a terminal
all escape C0 and C1 controls, line separators and bidi overrides).

Attack: alice queries with a case reference (free text: only NUL is refused, and one
visible character makes it a case) holding an 8-bit CSI (U+009B) that erases the line
and moves the cursor, a line separator and a right-to-left override. The reference is
on the trail (``query.started``). The officer runs ``sluice audit export`` with no
``--out`` in a terminal, as one reads a trail's tail: the export went to standard output
byte for byte — canonical JSON escapes C0 only, the CSV export nothing — so the analyst's
controls ran in the officer's terminal (what the officer reads of the trail rewritten).

Expected: on a terminal the export's controls arrive escaped (``\\uXXXX``); to a file or
a pipe the bytes stay exactly the export's (it verifies). On the embedded default and on
PostgreSQL.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.attacks.deployments import case_refs_fixture
from tests.attacks.pseudo_terminal import on_a_terminal
from tests.attacks.test_redteam24_steward_terminal_text import CONTROL
from tests.gateway.demo_app import DemoGateway

CASE = "JW-RT61\u009b2K\u009b1G\u2028\u202e-TTY"
ROOT = Path(__file__).resolve().parents[2]


gw = case_refs_fixture("red61_tty", [CASE])


def _env(gw: DemoGateway) -> dict[str, str]:
    return {**os.environ, "SLUICE_HOME": str(gw.settings.home),
            "SLUICE_DATABASE_URL": gw.settings.resolved_database_url,
            "PYTHONPATH": str(ROOT)}  # fmt: skip


def _on_a_terminal(gw: DemoGateway, *args: str) -> bytes:
    """``sluice audit export ARGS`` with its standard output on a pseudo-terminal."""
    return on_a_terminal(["audit", "export", *args], _env(gw), timeout=120)


@pytest.mark.parametrize("fmt", ["jsonl", "csv"])
def test_the_export_reaches_a_terminal_escaped(gw: DemoGateway, fmt: str) -> None:
    out = _on_a_terminal(gw, "--format", fmt).decode("utf-8", "replace")
    assert "JW-RT61" in out, ascii(out[-2000:])
    lines = out.replace("\r\n", "\n")  # the terminal's own line discipline adds the \r
    found = CONTROL.search(lines)
    assert found is None, ascii(lines[max(found.start() - 80, 0) : found.end() + 80])
    assert "\\u009b2K" in out  # shown, escaped: the officer still sees what was sent


def test_to_a_pipe_the_bytes_are_the_exports(gw: DemoGateway) -> None:
    done = subprocess.run([sys.executable, "-m", "gateway.cli.main", "audit", "export"],
                          env=_env(gw), capture_output=True, timeout=120, cwd=ROOT)  # fmt: skip
    assert done.returncode == 0, done.stderr.decode()
    assert CASE.encode() in done.stdout
