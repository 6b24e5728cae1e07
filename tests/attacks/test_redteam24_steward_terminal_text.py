"""Red team 24, as a steward (or a partner source's column comments), against the operator.

Text a steward writes (an entry's titles and descriptions, a field's description, a
tag) is stored as given: only NUL and lone surrogates are refused. The operator reads
the catalog on the host with ``sluice catalog list|show`` and checks a row's values
before ``sluice catalog rebind`` binds it. carl puts terminal control sequences in
civil's entry: ``ESC [ 2 K`` and a carriage return (erase the line written so far), a
newline followed by a forged field line, ``ESC ] 52`` (set the clipboard, in the
terminals that allow it), and the 8-bit CSI U+009B that ``json.dumps`` leaves as is.

Before: ``click.echo`` wrote them raw: the operator's terminal ran them — a line of
``catalog show`` rewritten, a field shown that the entry does not have, the clipboard
set. Now every value the catalog commands print is shown on one line with its control
characters escaped (``gateway.cli.shown``).
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from click.testing import CliRunner

from gateway.cli.main import cli
from tests.gateway.demo_app import DemoGateway

DIBAO = "civil.dibao_recipients"
HOSTILE = {
    "title_en": "Dibao roll\x1b[2K\rDibao roll (public, L1)",
    "description_en": "roll\n    id_number        string   L1  none       public code",
    "tags": ["\x1b]52;c;cm0gLXJmIH4=\x07", "\u009b2Kdibao"],
}
CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def _cli(gw: DemoGateway, monkeypatch: pytest.MonkeyPatch, *args: str) -> Any:
    monkeypatch.setenv("SLUICE_HOME", str(gw.settings.home))
    monkeypatch.setenv("SLUICE_DATABASE_URL", gw.settings.resolved_database_url)
    return CliRunner().invoke(cli, list(args), input="n\n")


def test_steward_text_does_not_drive_the_operators_terminal(
    deployment: DemoGateway, monkeypatch: pytest.MonkeyPatch
) -> None:
    gw = deployment
    before = gw.client.get(f"/api/v1/catalog/{DIBAO}", headers=gw.headers("carl")).json()
    saved = gw.client.patch(f"/api/v1/datasets/{DIBAO}", headers=gw.headers("carl"),
                            json=HOSTILE)  # fmt: skip
    assert saved.status_code == 200, saved.text
    try:
        for args in (("catalog", "show", DIBAO), ("catalog", "list"),
                     ("catalog", "search", "dibao"), ("catalog", "rebind", "entry", DIBAO,
                                                       "--reason", "check")):  # fmt: skip
            run = _cli(gw, monkeypatch, *args)
            assert not CONTROL.search(run.output), (args, run.output)
            lines = [line for line in run.output.splitlines() if line.startswith("    id_number")]
            if args[1] == "show":  # one line per field, none forged by a description
                assert len(lines) == 1, run.output
    finally:
        restore = {k: before[k] for k in HOSTILE}
        gw.client.patch(f"/api/v1/datasets/{DIBAO}", headers=gw.headers("carl"), json=restore)
