"""Red team 31, as a steward against an analyst's terminal: the remote CLI printed the
gateway's messages raw.

Rule (red team 24, ``gateway/cli/shown.py``): text a steward or a partner source wrote
reaches the operator's terminal escaped, never as control characters. The catalog
commands escape it; ``sluice query`` and ``sluice compare`` printed the gateway's refusal
(its message and each reason) as sent.

Attack: a steward names an entry's field with terminal escape sequences (OSC 52 sets
the clipboard, CSI clears the screen, a bidirectional override reorders what follows)
and raises it above the analysts' clearance. An analyst's script asks for the entry's
fields by name, as the catalog lists them (``sluice catalog show --json | jq -r``): the
refusal, through a real ``sluice serve`` process, names the field, and before the fix
the escapes ran in the analyst's terminal.

Expected: every gateway message the CLI prints goes through ``shown``: the controls
arrive as ``\\uXXXX``.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.attacks.deployments import KINDS, open_deployment
from tests.gateway.cli.client_gateway import serve
from tests.gateway.demo_app import DemoGateway

ENTRY = "civil.dibao_recipients"
HOSTILE = "phone\x1b]52;c;ZXZpbA==\x07\x1b[2J\x9b31m\u202e"
CONTROLS = ("\x1b", "\x07", "\x9b", "\u202e")


@pytest.fixture(scope="module", params=KINDS)
def live(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
         ) -> Iterator[tuple[DemoGateway, str]]:  # fmt: skip
    home: Path = tmp_path_factory.mktemp(f"rt31-cli-{request.param}")
    with open_deployment(request.param, home, db_prefix="ops31_cli") as gw:
        gw.edit_entry(ENTRY, field="phone", name=HOSTILE, level="L4")  # the steward's save
        settings = {} if request.param == "sqlite" else {
            "database_url": gw.settings.resolved_database_url}  # fmt: skip
        with serve(home, **settings) as url:
            yield gw, url


def _sluice(live: tuple[DemoGateway, str], *args: str) -> subprocess.CompletedProcess[str]:
    gw, url = live
    env = {**os.environ, "SLUICE_URL": url, "SLUICE_TOKEN": gw.token("alice", ttl=3600)}
    return subprocess.run([sys.executable, "-m", "gateway.cli.main", *args], env=env,
                          capture_output=True, text=True, timeout=120)  # fmt: skip


def test_a_query_refusal_prints_the_stewards_text_escaped(
    live: tuple[DemoGateway, str], tmp_path: Path
) -> None:
    asked = ["--purpose", "supervision", "--case-ref", "JW-RT31",
             "--fields", f"region_code,{HOSTILE}"]  # fmt: skip
    done = _sluice(live, "query", ENTRY, *asked, "-o", str(tmp_path / "r.json"))
    assert done.returncode == 1, (done.returncode, done.stderr)
    assert "is above your clearance" in done.stderr, done.stderr
    assert "phone\\u001b]52;c;ZXZpbA==\\u0007" in done.stderr, done.stderr
    assert not [c for c in CONTROLS if c in done.stderr + done.stdout], repr(done.stderr)
