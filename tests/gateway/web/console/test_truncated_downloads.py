"""``Sluice-Truncated`` (and Parquet key-value / Arrow schema metadata) on the downloads
that are not the query API (issue 16): a console download and a comparison run's stored
hit list say whether they were cut at the row cap, read back by pyarrow. The gateway
caps every level at ``CAP`` rows, so a county's dibao roll and a province's hit list
are cut, and a run with fewer hits is not."""

from __future__ import annotations

import io
from collections.abc import Iterator
from contextlib import closing

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from catalog.demo.users import DEMO_USERS
from gateway.enforcement.query.formats import TRUNCATED_KEY
from gateway.web.console.passwords import set_demo_passwords
from tests.gateway.comparison_env import hits, run_to_end
from tests.gateway.demo_app import demo_gateway
from tests.gateway.web.console.conftest import LiveConsole, serve

CAP = 2
DIBAO = "civil.dibao_recipients"
FORM = {"fields": ["name", "region_code"], "purpose": "supervision", "case_ref": "JW-2026-016",
        "page_size": "20", "page": "1"}  # fmt: skip
KEY = TRUNCATED_KEY.encode()


@pytest.fixture(scope="module")
def capped(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveConsole]:
    caps = {level: CAP for level in ("L1", "L2", "L3", "L4")}
    with demo_gateway(tmp_path_factory.mktemp("capped"), max_rows_by_level=caps) as gw:
        passwords = set_demo_passwords(gw.client.app.state.console.accounts,  # type: ignore[attr-defined]
                                       [u["subject"] for u in DEMO_USERS])  # fmt: skip
        for base in serve(gw):
            yield LiveConsole(gw=gw, base=base, passwords=passwords)


def _parquet_mark(data: bytes) -> str:
    return str((pq.read_metadata(io.BytesIO(data)).metadata or {})[KEY].decode())


@pytest.mark.parametrize(
    ("where", "cut"),
    [
        ({}, "true"),
        (
            {"where_0_field": "region_code", "where_0_op": "=", "where_0_value": "430121999"},
            "false",
        ),
    ],
)
def test_a_console_download_says_whether_it_was_cut(
    capped: LiveConsole, where: dict[str, str], cut: str
) -> None:
    client, csrf = capped.sign_in("alice")
    with closing(client):
        for fmt in ("parquet", "csv"):
            answer = client.post(f"/console/query/{DIBAO}/download?format={fmt}",
                                 data={**FORM, **where, "csrf_token": csrf})  # fmt: skip
            assert answer.status_code == 200, answer.text[:300]
            assert answer.headers["Sluice-Truncated"] == cut
            if fmt == "parquet":
                table = pq.read_table(io.BytesIO(answer.content))
                assert table.num_rows == (CAP if cut == "true" else 0)
                assert _parquet_mark(answer.content) == cut


def test_a_cut_hit_list_says_so_in_every_format(capped: LiveConsole) -> None:
    gw = capped.gw
    model = max(gw.report.planted, key=lambda m: gw.report.planted[m].total)
    assert gw.report.planted[model].total > CAP
    view = run_to_end(gw, "dora", model)
    assert view["status"] == "done", view
    assert view["truncated"] is True and view["hits"] == CAP
    for fmt in ("json", "csv", "ndjson", "parquet", "arrow", "xlsx"):
        resp = hits(gw, "dora", view["id"], fmt)
        assert resp.status_code == 200, resp.text
        assert resp.headers["Sluice-Truncated"] == "true", fmt
    assert _parquet_mark(hits(gw, "dora", view["id"], "parquet").content) == "true"
    reader = pa.ipc.open_stream(hits(gw, "dora", view["id"], "arrow").content)
    assert (reader.schema.metadata or {})[KEY] == b"true"  # known before the first byte
    assert reader.read_all().num_rows == CAP
    assert hits(gw, "dora", view["id"]).json()["truncated"] is True


def test_a_whole_hit_list_says_it_is_whole(capped: LiveConsole) -> None:
    gw = capped.gw
    model = min(gw.report.planted, key=lambda m: gw.report.planted[m].total)
    assert 0 < gw.report.planted[model].total < CAP
    view = run_to_end(gw, "dora", model)
    assert view["status"] == "done" and view["truncated"] is False and view["hits"] < CAP
    for fmt in ("csv", "parquet", "arrow"):
        resp = hits(gw, "dora", view["id"], fmt)
        assert resp.headers["Sluice-Truncated"] == "false", fmt
    assert _parquet_mark(hits(gw, "dora", view["id"], "parquet").content) == "false"
    schema = pa.ipc.open_stream(hits(gw, "dora", view["id"], "arrow").content).schema
    assert (schema.metadata or {})[KEY] == b"false"


def test_the_contract_declares_what_the_hit_list_sends(capped: LiveConsole) -> None:
    """Each format's content type and the ``Sluice-Truncated`` header, as sent above,
    are in the OpenAPI document (what schemathesis checks responses against)."""
    gw = capped.gw
    ok = gw.client.get("/openapi.json").json()["paths"][
        "/api/v1/comparison-runs/{run_id}/hits"]["get"]["responses"]["200"]  # fmt: skip
    assert "Sluice-Truncated" in ok["headers"]
    view = run_to_end(gw, "dora", min(gw.report.planted, key=lambda m: gw.report.planted[m].total))
    for fmt in ("json", "csv", "ndjson", "parquet", "arrow", "xlsx"):
        sent = hits(gw, "dora", view["id"], fmt).headers["content-type"].split(";")[0]
        assert sent in ok["content"], (fmt, sent)
