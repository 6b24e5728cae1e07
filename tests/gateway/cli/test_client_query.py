"""``sluice query`` against a real uvicorn gateway over the demo (issue 16): every query
format to a file its own reader opens, truncation reported, refusals explained, the
token never printed, a file never left looking complete when it is not."""

from __future__ import annotations

import csv
import io
import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner, Result
from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.cli.main import cli
from gateway.cli.remote import FORMATS as CLIENT_FORMATS
from gateway.cli.result_ends import CsvRows, _file_facts
from gateway.enforcement.query.formats import FORMATS
from tests.gateway.cli.client_gateway import Served, served

__all__ = ["served"]

DIBAO = "civil.dibao_recipients"
CASE = ["--purpose", "supervision", "--case-ref", "JW-2026-CLI"]
FIELDS = ["--fields", "region_code,monthly_amount", "--fields", "name"]
SUFFIX = {"json": "json", "ndjson": "ndjson", "csv": "csv", "csv_raw": "csv",
          "parquet": "parquet", "arrow": "arrow", "xlsx": "xlsx"}  # fmt: skip


def sluice(args: list[str], env: dict[str, str]) -> Result:
    return CliRunner().invoke(cli, args, env=env, catch_exceptions=False)


def read_rows(fmt: str, path: Path) -> list[dict[str, Any]]:
    """The file as its own format's reader sees it."""
    if fmt == "json":
        return list(json.loads(path.read_bytes())["rows"])
    if fmt == "ndjson":
        return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    if fmt in ("csv", "csv_raw"):
        return list(csv.DictReader(io.StringIO(path.read_text(encoding="utf-8-sig"))))
    if fmt == "parquet":
        return list(pq.read_table(path).to_pylist())
    with pa.memory_map(str(path)) as source:
        return list(pa.ipc.open_stream(source).read_all().to_pylist())


def test_the_client_knows_every_query_format() -> None:
    assert tuple(FORMATS) == CLIENT_FORMATS


@pytest.mark.parametrize("fmt", CLIENT_FORMATS)
def test_each_format_to_a_file(served: Served, tmp_path: Path, fmt: str) -> None:
    out = tmp_path / f"dibao.{SUFFIX[fmt]}"
    result = sluice(["query", DIBAO, *FIELDS, *CASE, "--limit", "40", "--format", fmt,
                     "--out", str(out)], served.env())  # fmt: skip
    assert result.exit_code == 0, result.output
    assert result.stdout == ""  # data went to the file, the report to stderr
    if fmt == "xlsx":  # a workbook: its rows as the client counts them (sheet XML)
        assert _file_facts("xlsx", out)[0] == 40
    else:
        rows = read_rows(fmt, out)
        assert len(rows) == 40
        assert set(rows[0]) == {"region_code", "monthly_amount", "name"}
        assert all(r["name"].endswith("*") for r in rows)  # masked by policy, as sent
    assert not out.with_name(out.name + ".part").exists()
    assert out.stat().st_mode & 0o077 == 0  # personal data: the owner's only
    assert f"{out}: 40 rows" in result.stderr
    # 3,000 rows match and 40 came: never reported as the whole result
    assert "TRUNCATED" in result.stderr or "did not say whether" in result.stderr
    if fmt == "json":
        assert "TRUNCATED" in result.stderr


def test_the_query_is_governed_and_on_record(served: Served, tmp_path: Path) -> None:
    out = tmp_path / "d.json"
    result = sluice(["query", DIBAO, *FIELDS, *CASE, "--limit", "3", "-o", str(out)],
                    served.env())  # fmt: skip
    assert result.exit_code == 0, result.output
    match = re.search(r"request ([0-9a-f]{32})", result.stderr)
    assert match, result.stderr
    events = served.gw.request_events(match[1], want=2)
    kinds = {e["type"] for e in events}
    assert {"query.started", "query.completed"} <= kinds
    assert {e["purpose"] for e in events} == {"supervision"}


def test_a_whole_result_is_not_called_cut(served: Served, tmp_path: Path) -> None:
    out = tmp_path / "all.json"
    where = '{"field": "household_size", "op": ">=", "value": 6}'
    result = sluice(["query", DIBAO, *FIELDS, *CASE, "--where", where, "-o", str(out)],
                    served.env())  # fmt: skip
    assert result.exit_code == 0, result.output
    rows = read_rows("json", out)
    assert rows and all(r is not None for r in rows)
    assert "TRUNCATED" not in result.stderr and "did not say" not in result.stderr


def test_fail_if_truncated_exits_3_and_keeps_what_was_sent(served: Served, tmp_path: Path) -> None:
    out = tmp_path / "cut.json"
    result = sluice(["query", DIBAO, *FIELDS, *CASE, "--limit", "5", "-o", str(out),
                     "--fail-if-truncated"], served.env())  # fmt: skip
    assert result.exit_code == 3
    assert "TRUNCATED (the JSON trailer)" in result.stderr
    assert len(read_rows("json", out)) == 5  # the answer as sent, complete as a document


def test_ndjson_to_standard_output(served: Served) -> None:
    result = sluice(["query", DIBAO, *FIELDS, *CASE, "--limit", "7", "--format", "ndjson"],
                    served.env())  # fmt: skip
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert len(lines) == 7 and all(json.loads(line)["region_code"] for line in lines)
    assert "standard output: 7 rows" in result.stderr


def test_a_binary_format_needs_a_file_on_a_terminal() -> None:
    probe = ("import sys, pty, os\n"
             "pid, fd = pty.fork()\n"
             "if pid == 0:\n"
             "    os.environ['SLUICE_TOKEN'] = 'x.y.z'\n"
             "    from gateway.cli.main import cli\n"
             "    cli(['query', 'a.b', '--purpose', 'p', '--format', 'parquet'])\n"
             "out = b''\n"
             "while True:\n"
             "    try: chunk = os.read(fd, 1024)\n"
             "    except OSError: break\n"
             "    if not chunk: break\n"
             "    out += chunk\n"
             "print(out.decode())\n")  # fmt: skip
    shown = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                           timeout=60).stdout  # fmt: skip
    assert "parquet is binary: write it with --out FILE" in shown


def test_a_refusal_says_why_and_keeps_nothing(served: Served, tmp_path: Path) -> None:
    env = served.env()
    out = tmp_path / "refused.csv"
    result = sluice(["query", DIBAO, "--purpose", "curiosity", "-o", str(out)], env)
    assert result.exit_code == 1
    assert "the gateway answered 403" in result.stderr
    assert "purpose" in result.stderr
    assert not out.exists() and not out.with_name(out.name + ".part").exists()
    assert env["SLUICE_TOKEN"] not in result.output


def test_the_token_is_never_printed(served: Served, tmp_path: Path) -> None:
    env = served.env()
    token = env["SLUICE_TOKEN"]
    good = sluice(["query", DIBAO, *FIELDS, *CASE, "--limit", "2"], env)
    assert good.exit_code == 0 and token not in good.output
    forged = token[:-6] + ("AAAAAA" if not token.endswith("AAAAAA") else "BBBBBB")
    bad = sluice(["query", DIBAO, *CASE], {**env, "SLUICE_TOKEN": forged})
    assert bad.exit_code == 1 and "the gateway answered 401" in bad.stderr
    assert forged not in bad.output and token not in bad.output
    garbage = sluice(["query", DIBAO, *CASE], {**env, "SLUICE_TOKEN": "secret with spaces"})
    assert "SLUICE_TOKEN does not hold one bearer token" in garbage.stderr
    assert "secret with spaces" not in garbage.output


def test_token_file(served: Served, tmp_path: Path) -> None:
    env = served.env()
    token_file = tmp_path / "token"
    token_file.write_text(env.pop("SLUICE_TOKEN") + "\n")
    token_file.chmod(0o600)
    env["SLUICE_TOKEN"] = "ignored.when.a.file.is.named"
    args = ["query", DIBAO, *FIELDS, *CASE, "--limit", "2", "--token-file", str(token_file)]
    result = sluice(args, env)
    assert result.exit_code == 0, result.output
    assert "readable by other users" not in result.stderr
    token_file.chmod(0o644)
    assert "readable by other users (chmod 600 it)" in sluice(args, env).stderr
    missing = sluice(["query", DIBAO, *CASE], {"SLUICE_URL": served.url})
    assert missing.exit_code == 1 and "no token: set SLUICE_TOKEN" in missing.stderr


@pytest.mark.parametrize(("url", "message"), [
    ("http://gateway.example.gov.cn", "would send the token in clear"),
    ("https://user:pw@gateway.example.gov.cn", "put no credentials in the URL"),
    ("ftp://gateway.example.gov.cn", "is not an http(s) URL"),
])  # fmt: skip
def test_urls_that_would_leak_the_token_are_refused(url: str, message: str) -> None:
    result = sluice(["query", DIBAO, *CASE, "--url", url], {"SLUICE_TOKEN": "a.b.c"})
    assert result.exit_code == 2 and message in result.stderr
    assert "pw" not in result.stderr.replace(message, "")


def test_nothing_resumes_and_nothing_is_overwritten(served: Served, tmp_path: Path) -> None:
    out = tmp_path / "d.csv"
    part = tmp_path / "d.csv.part"
    part.write_bytes(b"region_code,name\n4301")  # left by a killed run
    args = ["query", DIBAO, *FIELDS, *CASE, "--limit", "4", "-o", str(out)]
    first = sluice(args, served.env())
    assert first.exit_code == 0, first.output
    assert f"discarded {part} left by an earlier run" in first.stderr
    assert len(read_rows("csv", out)) == 4 and not part.exists()
    again = sluice(args, served.env())
    assert again.exit_code == 1 and "exists: pass --force" in again.stderr
    assert sluice([*args, "--force"], served.env()).exit_code == 0


def test_bad_filters_are_caught_before_sending(tmp_path: Path) -> None:
    env = {"SLUICE_TOKEN": "a.b.c", "SLUICE_URL": "http://127.0.0.1:9"}
    assert "not JSON" in sluice(["query", DIBAO, *CASE, "--where", "x=1"], env).stderr
    shape = sluice(["query", DIBAO, *CASE, "--where", '{"field": "x"}'], env)
    assert shape.exit_code == 2 and '{"field": …, "op": …, "value": …}' in shape.stderr
    filters = tmp_path / "where.json"
    filters.write_text('[{"field": "region_code", "op": "prefix", "value": "43"}]')
    # the filter file parses; the (closed) port is what fails, after it
    down = sluice(["query", DIBAO, *CASE, "--where", f"@{filters}"], env)
    assert down.exit_code == 1 and "cannot reach the gateway at http://127.0.0.1:9" in down.stderr


def test_validation_errors_name_their_place(served: Served) -> None:
    result = sluice(["query", DIBAO, *CASE, "--where", '{"field": "x", "op": "~"}'],
                    served.env())  # fmt: skip
    assert result.exit_code == 1 and "400 bad_request" in result.stderr
    assert "where" in result.stderr


cells = st.text(alphabet=st.sampled_from(list('ab,"\n\r 中')), max_size=8)


@given(rows=st.lists(st.tuples(cells, st.integers(-5, 5)), max_size=12),
       cuts=st.lists(st.integers(1, 400), max_size=10))  # fmt: skip
@settings(deadline=None)  # what is checked is the count; a loaded machine is no failure
def test_csv_rows_are_counted_as_they_arrive(rows: list[tuple[str, int]], cuts: list[int]) -> None:
    """Newlines inside quoted cells, quotes doubled, chunks cut anywhere: the live count
    is the number of rows a CSV reader finds."""
    table = pa.table({"text": [r[0] for r in rows], "n": [r[1] for r in rows]},
                     schema=pa.schema([("text", pa.string()), ("n", pa.int64())]))  # fmt: skip
    sink = io.BytesIO()
    pacsv.write_csv(table, sink)
    data = sink.getvalue()
    counter = CsvRows()
    start = 0
    for cut in sorted(set(cuts)):
        counter.feed(data[start:cut])
        start = max(start, cut)
    counter.feed(data[start:])
    assert counter.rows == len(rows)


HEAVY = ("fastapi", "sqlalchemy", "pyarrow", "uvicorn", "regopy", "httpx", "rich")


@pytest.mark.parametrize("argv", [["query", "--help"], ["compare", "--help"]])
def test_help_imports_no_client_or_server_stack(argv: list[str]) -> None:
    probe = ("import sys; from gateway.cli.main import cli\n"
             f"try: cli({argv!r})\n"
             "except SystemExit: pass\n"
             f"print(sorted(m for m in {HEAVY!r} if m in sys.modules))")  # fmt: skip
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                         check=True)  # fmt: skip
    assert out.stdout.strip().splitlines()[-1] == "[]"
