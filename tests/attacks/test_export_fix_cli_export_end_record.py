"""The export fix's left row, for the operator's export (``sluice audit export``).

The command put ``audit.exported`` on record with no request id and no end, so an
export killed half-way looked like a finished one, and the never-ended rule could not
read it. It now puts its start and its end under one request id, as the API's export:
``audit.export_completed`` with the events, bytes, SHA-256 and last seq it wrote (on
the embedded default, where the command runs beside its home).
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import orjson
import pytest
from click.testing import CliRunner

from gateway.cli.main import cli


def _export(out: Path) -> list[dict[str, Any]]:
    """``sluice audit export --out``, and the event lines it wrote."""
    result = CliRunner().invoke(cli, ["audit", "export", "--out", str(out)],
                                catch_exceptions=False)  # fmt: skip
    assert result.exit_code == 0, result.output
    lines = [orjson.loads(line) for line in out.read_bytes().splitlines() if line.strip()]
    return [line for line in lines if line.get("kind") == "event"]


def test_the_operators_export_has_its_end_on_record(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SLUICE_HOME", str(tmp_path / "home"))
    first = tmp_path / "first.jsonl"
    written = _export(first)
    later = [line["event"] for line in _export(tmp_path / "second.jsonl")]  # the first's
    start = next(e for e in later if e["type"] == "audit.exported")
    assert start.get("request_id"), start
    ends = [e for e in later if e.get("request_id") == start["request_id"]
            and e["type"] != "audit.exported"]  # fmt: skip
    assert [e["type"] for e in ends] == ["audit.export_completed"], ends
    end = ends[0]
    body = first.read_bytes()
    assert end["outcome"] == "ok", end
    assert end["details"]["bytes_sent"] == len(body), end
    assert end["result_sha256"] == hashlib.sha256(body).hexdigest(), end
    assert end["rows"] == len(written), end
    assert end["details"]["last_seq"] == written[-1]["seq"], end
