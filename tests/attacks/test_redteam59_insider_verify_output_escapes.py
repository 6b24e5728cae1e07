"""Red team 59, as whoever hands an officer or an outside reviewer a tampered export (or
an insider of the audit database, against ``sluice audit verify`` on the host).

Attack: a checkpoint record of an export is given a key id holding C1 controls (the
8-bit CSI, U+009B), a line separator and a bidirectional override, written as canonical
JSON (the verifier asks for nothing else of a line's bytes). ``sluice audit verify
--file`` fails it (``unknown key``) and prints its result as one JSON line — the line
the reviewer reads — with the failure's detail naming that key id. ``orjson`` escapes
C0 controls but writes C1 and the overrides raw, so the reviewer's terminal ran the
forger's escape sequences: the line erased and rewritten as ``{"ok":true,…}`` over a
forged export (the exit code alone still said 1).

Rule: text a tampered input controls reaches the operator's terminal with every control
escaped (``gateway/cli/shown.py``, red team 24: the catalog's text; this is the trail's).

Expected: the printed result holds no C1 control, line separator or override; it is
still one line of JSON that reads back as the result.
"""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest
from click.testing import CliRunner

from audit.canonical import canonical_json
from audit.export import export_stream
from audit.log import public_keys
from catalog.controls import CONTROL
from gateway.cli.audit_cmd import audit
from tests.audit.helpers import fill, open_log

FORGED_KID = 'k\u009b2K\u009b1G{"ok":true}\u2028\u202e'


@pytest.fixture
def forged(tmp_path: Path) -> tuple[Path, Path]:
    """An honest export with its first checkpoint's key id replaced, and its key list."""
    log = open_log(f"sqlite:///{tmp_path / 'gw.db'}", tmp_path / "gateway")
    fill(log, 20)
    data = b"".join(export_stream(store=log.store, signer=log.signer))  # type: ignore[arg-type]
    keys = tmp_path / "keys.json"
    keys.write_bytes(orjson.dumps({"keys": public_keys(log.store)}))
    log.close()
    lines = data.split(b"\n")
    for i, line in enumerate(lines):
        record = orjson.loads(line) if line else None
        if isinstance(record, dict) and record.get("kind") == "checkpoint":
            lines[i] = canonical_json({**record, "kid": FORGED_KID})
            break
    else:
        raise AssertionError("the export holds no checkpoint")
    path = tmp_path / "forged.jsonl"
    path.write_bytes(b"\n".join(lines))
    return path, keys


def test_a_forged_key_id_reaches_the_terminal_escaped(forged: tuple[Path, Path]) -> None:
    path, keys = forged
    run = CliRunner().invoke(audit, ["verify", "--file", str(path), "--trust", str(keys)])
    assert run.exit_code == 1, run.output
    printed = run.stdout.rstrip("\n")
    assert "\n" not in printed, printed
    assert not CONTROL.search(printed), ascii(printed)
    result = orjson.loads(printed)
    assert result["ok"] is False
    assert FORGED_KID in result["detail"], result  # the same text, escaped as JSON escapes it
