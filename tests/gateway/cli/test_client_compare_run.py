"""``sluice compare run MODEL`` against a real uvicorn gateway over the demo (issue 15):
the run queued as a job, waited for with its progress on stderr, its hit list saved
like a query's result; ``sluice compare LEFT RIGHT`` keeps working beside it."""

from __future__ import annotations

import csv
import json
import re
from pathlib import Path

from click.testing import CliRunner, Result

from gateway.cli.main import cli
from tests.gateway.cli.client_gateway import Served, served

__all__ = ["served"]

MODEL = "demo.payroll_on_dibao"
CASE = ["--purpose", "supervision", "--case-ref", "JW-2026-RUN"]


def sluice(args: list[str], env: dict[str, str]) -> Result:
    return CliRunner().invoke(cli, args, env=env, catch_exceptions=False)


def test_run_waits_and_saves_the_hits(served: Served, tmp_path: Path) -> None:
    assert served.gw.report is not None
    planted = served.gw.report.planted[MODEL].total
    out = tmp_path / "hits.csv"
    result = sluice(["compare", "run", MODEL, *CASE, "--wait", "--output", str(out)],
                    served.env())  # fmt: skip
    assert result.exit_code == 0, result.output
    run_id = re.search(r"run (cr_[0-9a-f]+) done: (\d+) hits", result.stderr)
    assert run_id and int(run_id[2]) == planted, result.stderr
    with out.open(encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == planted and rows[0]["hit_id"] == "1"
    assert all(r["key_token"].startswith("tk_") for r in rows)
    view = served.gw.client.get(f"/api/v1/comparison-runs/{run_id[1]}",
                                headers=served.gw.headers("dora"))  # fmt: skip
    assert view.json()["status"] == "done" and view.json()["owner"] == "dora"


def test_run_without_wait_prints_the_queued_run(served: Served) -> None:
    result = sluice(["compare", "run", MODEL, *CASE, "--engine", "embedded"], served.env())
    assert result.exit_code == 0, result.output
    started = json.loads(result.stdout)
    assert started["id"].startswith("cr_") and started["status"] == "queued"


def test_a_refused_run_exits_non_zero_with_the_gateways_reason(served: Served) -> None:
    result = sluice(["compare", "run", "no.such_model", *CASE, "--wait"], served.env())
    assert result.exit_code == 1
    assert "the gateway answered 404" in result.output, result.output


def test_pairwise_compare_still_works_beside_run(served: Served) -> None:
    result = sluice(["compare", "finance.payroll:id_number", "civil.dibao_recipients:id_number",
                     *CASE, "--limit", "2", "--format", "ndjson"], served.env())  # fmt: skip
    assert result.exit_code == 0, result.output
    assert result.stdout.count("\n") >= 2
    options_first = sluice(
        ["compare", *CASE, "finance.payroll:id_number", "civil.dibao_recipients:id_number",
         "--limit", "1"], served.env(),
    )  # fmt: skip
    assert options_first.exit_code == 0, options_first.output


def test_due_triggers_the_callers_due_schedules(served: Served) -> None:
    body = {"region": "430121", "every": "monthly", "purpose": "supervision",
            "case_ref": "JW-2026-DUE"}  # fmt: skip
    made = served.gw.client.post(f"/api/v1/comparison-models/{MODEL}/schedules", json=body,
                                 headers=served.gw.headers("alice"))  # fmt: skip
    assert made.status_code == 201, made.text
    result = sluice(["compare", "due"], served.env("alice"))
    assert result.exit_code == 0, result.output
    runs = json.loads(result.stdout)["runs"]
    assert len(runs) == 1 and runs[0].startswith("cr_")
    again = sluice(["compare", "due"], served.env("alice"))
    assert json.loads(again.stdout)["runs"] == []  # next due in a month
