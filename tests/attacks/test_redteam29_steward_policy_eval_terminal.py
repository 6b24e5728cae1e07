"""Red team 29, as a steward (or a partner source's column names), against the operator
who asks ``sluice policy eval`` why a user gets what they get.

Rule: catalog text printed to an operator's terminal goes through
``gateway/cli/shown.py`` (controls as ``\\uXXXX``): red team 24 found escape sequences
in field names running in the terminal of ``sluice catalog show`` and of the remote
``sluice query``. ``sluice policy eval`` prints the decision's field table (every field
by name) and its reasons, and ``--json`` the decision with ``ensure_ascii=False``.

Attack: carl publishes an entry over a table of civil's database whose ID-number column
is named with a newline, a forged field line (``field bank_card: allow``) and OSC 52
(set the clipboard) and a C1 CSI. The operator runs ``sluice policy eval --user alice
--dataset civil.rt29_people``: the forged line reads as the decision's own and the
escapes reach the terminal, raw; ``--json`` leaves the C1 control and U+2028 raw.

On the embedded SQLite default and on PostgreSQL (``deployment``).
"""

from __future__ import annotations

import pytest

from tests.attacks.redteam27 import run_cli
from tests.attacks.redteam29 import ENTRY, published_below
from tests.gateway.demo_app import DemoGateway

COLUMN = "id_no\n  field bank_card: allow\x1b]52;c;ZXZpbA==\x07\x9b2J\u2028"
RAW = ("\x1b", "\x07", "\x9b", "\u2028")


@pytest.mark.parametrize("as_json", [False, True], ids=["table", "json"])
def test_policy_eval_prints_no_catalog_control_raw(
    deployment: DemoGateway, monkeypatch: pytest.MonkeyPatch, as_json: bool
) -> None:
    gw = deployment
    if not gw.client.get(f"/api/v1/catalog/{ENTRY}", headers=gw.headers("alice")).is_success:
        published_below(gw, COLUMN)
    args = ["policy", "eval", "--user", "alice", "--dataset", ENTRY, "--purpose",
            "supervision", "--case-ref", "JW-RT29"] + (["--json"] if as_json else [])  # fmt: skip
    result = run_cli(gw, monkeypatch, *args)
    assert result.exit_code == 0, result.output
    out = result.output
    assert not any(c in out for c in RAW), repr(out)
    assert not any(line.strip() == "field bank_card: allow" for line in out.splitlines()), out
