"""``sluice compare`` against a real uvicorn gateway over the demo (issue 16): the payroll
matched with the subsistence-allowance roll on the ID number, as tokens."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pyarrow as pa
from click.testing import CliRunner, Result

from gateway.cli.main import cli
from tests.gateway.cli.client_gateway import Served, served

__all__ = ["served"]

PAYROLL = "finance.payroll"
DIBAO = "civil.dibao_recipients"
CASE = ["--purpose", "supervision", "--case-ref", "JW-2026-CMP"]


def sluice(args: list[str], env: dict[str, str]) -> Result:
    return CliRunner().invoke(cli, args, env=env, catch_exceptions=False)


def test_matches_to_an_arrow_file(served: Served, tmp_path: Path) -> None:
    out = tmp_path / "matches.arrow"
    result = sluice(["compare", f"{PAYROLL}:id_number", f"{DIBAO}:id_number",
                     "--left-fields", "name,employer", "--right-fields", "region_code",
                     *CASE, "-o", str(out)], served.env())  # fmt: skip
    assert result.exit_code == 0, result.output
    with pa.memory_map(str(out)) as source:
        table = pa.ipc.open_stream(source).read_all()
    assert table.num_rows > 0
    assert table.column_names == ["key_token", "left.name", "left.employer", "right.region_code"]
    assert all(t.startswith("tk_") for t in table.column("key_token").to_pylist())
    assert f"{out}: {table.num_rows:,} rows" in result.stderr
    # each side and the comparison itself are on record
    request_id = re.search(r"request ([0-9a-f]{32})", result.stderr)
    assert request_id, result.stderr
    kinds = {e["type"] for e in served.gw.request_events(request_id[1], want=6)}
    assert {"comparison.started", "query.started"} <= kinds


def test_matches_as_csv_on_standard_output_with_a_side_filter(served: Served) -> None:
    where = '{"field": "region_code", "op": "prefix", "value": "43"}'
    result = sluice(["compare", f"{PAYROLL}:id_number", f"{DIBAO}:id_number",
                     "--right-fields", "region_code", "--right-where", where, "--limit", "3",
                     *CASE, "--format", "ndjson"], served.env())  # fmt: skip
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    assert 0 < len(rows) <= 3
    assert all(r["right.region_code"].startswith("43") for r in rows)


def test_a_side_must_name_its_key(served: Served) -> None:
    result = sluice(["compare", PAYROLL, f"{DIBAO}:id_number", *CASE], served.env())
    assert result.exit_code == 2 and "is not DATASET:KEY" in result.stderr


def test_a_case_reference_is_required() -> None:
    result = sluice(["compare", f"{PAYROLL}:id_number", f"{DIBAO}:id_number",
                     "--purpose", "supervision"], {"SLUICE_TOKEN": "a.b.c"})  # fmt: skip
    assert result.exit_code == 2 and "--case-ref" in result.stderr


def test_a_refused_side_refuses_the_comparison(served: Served, tmp_path: Path) -> None:
    out = tmp_path / "m.json"
    result = sluice(["compare", f"{PAYROLL}:id_number", f"{DIBAO}:id_number",
                     "--purpose", "curiosity", "--case-ref", "X-1", "-o", str(out)],
                    served.env())  # fmt: skip
    assert result.exit_code == 1 and "the gateway answered 403" in result.stderr
    assert not out.exists()
