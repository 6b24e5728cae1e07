"""Red team 59, as an insider of the catalog database, against the operator's terminal.

Red team 24 escaped what a steward writes (titles, descriptions, tags, field
descriptions) wherever ``sluice catalog list|show|search`` prints it. The columns no
steward writes as free text — an entry's and a field's level, a field's personal-data
category, the entry's status — were printed raw: they are codes when a gateway writes
them, but an insider writes anything (SQLite keeps any length; PostgreSQL's
``varchar(32)`` holds an OSC 52 clipboard write). These are the commands an operator
reads a row with before ``sluice catalog rebind`` binds what an insider changed, so a
field line rewritten by ``CSI K`` or a carriage return hides the very change the
operator is checking.

Expected: every value the catalog commands print reaches the terminal with its control
characters escaped, codes as well as text.

On the embedded SQLite default and on PostgreSQL (``deployment``).
"""

from __future__ import annotations

import pytest
from sqlalchemy import Table

from catalog.models import Dataset, Field
from tests.attacks.redteam27 import run_cli
from tests.attacks.test_insider_unsealed_console_catalog import _changed
from tests.attacks.test_redteam24_steward_terminal_text import CONTROL
from tests.gateway.demo_app import DemoGateway

DIBAO = "civil.dibao_recipients"
_F: Table = Field.__table__  # type: ignore[assignment]
_D: Table = Dataset.__table__  # type: ignore[assignment]
CLIPBOARD = "\x1b]52;c;cm0gLXJmIH4=\x07"  # 23 characters: within varchar(32)
ERASE = "\u009bK"  # the 8-bit CSI: erase to the end of the line, in two characters


def test_codes_written_behind_the_gateway_do_not_drive_the_terminal(
    deployment: DemoGateway, monkeypatch: pytest.MonkeyPatch
) -> None:
    gw = deployment
    field = (_F.c.dataset_id == DIBAO) & (_F.c.name == "id_number")
    with (
        _changed(gw, _F, field, level=ERASE, pi_category=CLIPBOARD),
        _changed(gw, _D, _D.c.id == DIBAO, level=ERASE),
    ):
        for args in (("catalog", "show", DIBAO), ("catalog", "list"),
                     ("catalog", "search", "dibao")):  # fmt: skip
            run = run_cli(gw, monkeypatch, *args)
            assert run.exit_code == 0, (args, run.output)
            assert not CONTROL.search(run.output), (args, ascii(run.output))


UNSEALED = "changed outside the gateway: serves nothing until restored"


def test_the_catalog_commands_mark_a_row_changed_behind_the_gateway(
    deployment: DemoGateway, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The API says ``sealed: false`` and the console marks such a row (the fix of
    ``test_insider_unsealed_console_catalog``); the operator's table and ``show`` printed
    the insider's values as any entry's — the row a rebind would bind as it is."""
    gw = deployment
    assert UNSEALED not in run_cli(gw, monkeypatch, "catalog", "show", DIBAO).output
    field = (_F.c.dataset_id == DIBAO) & (_F.c.name == "id_number")
    with _changed(gw, _F, field, level="L1", pi_category="none"):
        shown = run_cli(gw, monkeypatch, "catalog", "show", DIBAO).output
        assert UNSEALED in shown, shown
        listed = run_cli(gw, monkeypatch, "catalog", "list").output.splitlines()
        dibao = [line for line in listed if line.startswith(DIBAO)]
        assert len(dibao) == 1 and UNSEALED in dibao[0], listed
        others = [line for line in listed if line.startswith("finance.payroll ")]
        assert others and UNSEALED not in others[0], listed
