"""The HTTP JSON adapter against a real local server: paging styles, push-down and
re-filtering, auth, timeouts, and SSRF through registration, redirects, next links and
DNS rebinding."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from typing import Any

import pyarrow as pa
import pytest

from adapters.base import AdapterLimits, Column, Filter, OrderBy, QueryPlan, RowFilter, SourceConfig
from adapters.http_json import HttpAdapter
from adapters.registry import open_adapter, redact, validate_config
from catalog.errors import BadRequest, Forbidden, SourceFailed, SourceTimeout, TooLarge
from tests.adapters.http_server import RECORDS, ServerLog, serve
from tests.adapters.sql_sources import free_port

COLUMNS = (
    Column("id", "int64"),
    Column("name", "string"),
    Column("region", "string"),
    Column("amount", "float64"),
    Column("born", "date"),
    Column("active", "bool"),
)
ENDPOINTS = [
    {
        "name": "people",
        "path": "/people",
        "records": "data.items",
        "paging": {"style": "page", "size_param": "per_page"},
        "filters": [{"field": "region", "op": "=", "param": "region"}],
        "columns": [{"name": c.name, "type": c.type} for c in COLUMNS],
    },
    {"name": "offset", "path": "/offset", "paging": "offset"},
    {"name": "linked", "path": "/linked", "records": "items", "paging": "next"},
    {"name": "ignores", "path": "/ignores", "filters": [{"field": "region", "param": "region"}]},
    {"name": "leaky", "path": "/leaky", "records": "items", "paging": "next"},
    {"name": "slow", "path": "/slow"},
    {"name": "whoami", "path": "/whoami"},
    {"name": "to_metadata", "path": "/redirect?to=http://169.254.169.254/latest/meta-data"},
]


@pytest.fixture(scope="module")
def server() -> Iterator[tuple[str, ServerLog]]:
    with serve() as running:
        yield running


def config(base: str, secret: str | None = None, **extra: Any) -> SourceConfig:
    settings = {"base_url": base, "page_size": 10, "objects": ENDPOINTS, **extra}
    return SourceConfig("http", settings, secret=secret)


ALLOW = AdapterLimits(http_allow_hosts=("127.0.0.1",), statement_timeout_s=5.0)


def run(base: str, plan: QueryPlan, limits: AdapterLimits = ALLOW, **kw: Any) -> pa.Table:
    adapter = open_adapter(config(base, **kw), limits)
    try:
        return pa.Table.from_batches(list(adapter.execute(plan)))
    finally:
        adapter.close()


def query(name: str, *cols: str, **kw: Any) -> QueryPlan:
    by_name = {c.name: c for c in COLUMNS}
    chosen = tuple(by_name[c] for c in cols) if cols else COLUMNS
    return QueryPlan(name, chosen, COLUMNS, **kw)


def test_introspection_and_every_paging_style(server: tuple[str, ServerLog]) -> None:
    base, _log = server
    adapter = open_adapter(config(base, objects=ENDPOINTS[:3]), ALLOW)
    try:
        adapter.test_connection()
        info = {o.name: o for o in adapter.list_objects()}
        sample = adapter.sample("offset", rows=3)
    finally:
        adapter.close()
    assert info["people"].columns == COLUMNS
    inferred = {c.name: c.type for c in info["offset"].columns}
    assert inferred == {
        "id": "int64",
        "name": "string",
        "region": "string",
        "amount": "float64",
        "born": "string",
        "active": "bool",
    }
    assert sample.num_rows == 3
    for name in ("people", "offset", "linked"):
        table = run(base, query(name, "id", "born"))
        assert table.column("id").to_pylist() == [r["id"] for r in RECORDS], name
        assert table.schema.field("born").type == pa.date32()


def test_filters_pushed_down_and_reapplied(server: tuple[str, ServerLog]) -> None:
    base, log = server
    region = Filter("region", "=", "120101")
    expected = [r["id"] for r in RECORDS if r["region"] == "120101"]
    log.requests.clear()
    assert run(base, query("people", "id", filters=(region,))).column("id").to_pylist() == expected
    assert any("region=120101" in path for path, _ in log.requests)
    # An endpoint that ignores the parameter cannot widen the result.
    assert run(base, query("ignores", "id", filters=(region,))).column("id").to_pylist() == expected
    cases = [
        (Filter("amount", ">", 30), [r["id"] for r in RECORDS if r["amount"] > 30]),
        (Filter("name", "prefix", "p1"), list(range(10, 20))),
        (Filter("id", "between", [3, 5]), [3, 4, 5]),
        (Filter("active", "=", True), [r["id"] for r in RECORDS if r["active"]]),
        (Filter("born", "<", "1955-01-01"), [1, 2, 3, 4]),
        (Filter("name", "=", "' OR 1=1 --"), []),
    ]
    for flt, want in cases:
        got = run(base, query("offset", "id", filters=(flt,)))
        assert got.column("id").to_pylist() == want, flt
    rf = RowFilter("region", ("1201",))
    assert run(base, query("linked", "id", row_filter=rf)).column("id").to_pylist() == expected
    assert run(base, query("linked", "id", row_filter=RowFilter("region", ()))).num_rows == 0
    with pytest.raises(BadRequest, match="unknown field"):
        run(base, query("offset", "id", filters=(Filter("secret", "=", "1"),)))


def test_limit_offset_order_and_max_rows(server: tuple[str, ServerLog]) -> None:
    base, log = server
    log.requests.clear()
    table = run(base, query("people", "id", limit=3, offset=2))
    assert table.column("id").to_pylist() == [3, 4, 5]
    assert len(log.requests) == 1  # stops fetching once the limit is reached
    ordered = run(
        base, query("offset", "id", order_by=(OrderBy("amount", descending=True),), limit=2)
    )
    assert ordered.column("id").to_pylist() == [25, 24]
    capped = AdapterLimits(http_allow_hosts=("127.0.0.1",), max_rows=4)
    assert run(base, query("linked", "id"), capped).num_rows == 4
    with pytest.raises(TooLarge):
        run(base, query("linked", "id", order_by=(OrderBy("id"),)), capped)


def test_auth_headers_only_to_the_source(server: tuple[str, ServerLog]) -> None:
    base, _log = server
    whoami = QueryPlan("whoami", (Column("auth"), Column("host")), (Column("auth"), Column("host")))
    bearer = run(base, whoami, secret="tok-123").to_pylist()[0]
    assert bearer["auth"] == "Bearer tok-123"
    assert bearer["host"] == base.removeprefix("http://")
    basic = run(base, whoami, secret="user:pa55", auth="basic").to_pylist()[0]
    assert basic["auth"] == "Basic " + base64.b64encode(b"user:pa55").decode()
    assert "tok-123" not in redact(config(base, secret="tok-123"))


def test_ssrf_at_registration(server: tuple[str, ServerLog]) -> None:
    base, _log = server
    for url in (base, base.replace("127.0.0.1", "localhost"), "http://169.254.169.254/"):
        with pytest.raises(Forbidden):
            validate_config(config(url), AdapterLimits())
    with pytest.raises(BadRequest):
        validate_config(config("file:///etc/passwd"), ALLOW)
    with pytest.raises(Forbidden):  # allowing 127.0.0.1 does not allow the name localhost
        validate_config(config(base.replace("127.0.0.1", "localhost")), ALLOW)
    bad_paths = ["http://169.254.169.254/x", "//evil.example/x", "/../admin", "/x\x00"]
    for path in bad_paths:
        with pytest.raises(BadRequest):
            validate_config(config(base, objects=[{"name": "x", "path": path}]), ALLOW)
    validate_config(config(base), ALLOW)


def test_redirects_and_next_links_are_rechecked(server: tuple[str, ServerLog]) -> None:
    base, log = server
    with pytest.raises(Forbidden, match=r"169\.254\.169\.254"):
        run(base, query("to_metadata", "id"))
    to_other = [
        {"name": "x", "path": f"/redirect?to=http://127.0.0.2:{base.rsplit(':', 1)[1]}/offset"}
    ]
    with pytest.raises(Forbidden, match=r"127\.0\.0\.2"):
        run(base, query("x", "id"), objects=to_other)
    log.requests.clear()
    with pytest.raises(SourceFailed, match="leaves the source's origin"):
        run(base, query("leaky", "id"), secret="tok-123")
    assert all(h.get("Host", "").startswith("127.0.0.1") for _, h in log.requests)


def test_dns_rebinding_cannot_switch_the_address(server: tuple[str, ServerLog]) -> None:
    base, log = server
    port = int(base.rsplit(":", 1)[1])
    answers = iter([["93.184.216.34"], ["127.0.0.1"], ["127.0.0.1"]])

    def rebinding(host: str, _port: int) -> list[str]:
        return next(answers)

    url = f"http://data.example.test:{port}"
    adapter = HttpAdapter(config(url), AdapterLimits(), resolver=rebinding)
    log.requests.clear()
    try:
        with pytest.raises(Forbidden):
            list(adapter.execute(query("offset", "id")))
    finally:
        adapter.close()
    assert log.requests == []  # nothing was sent to the rebound address

    # An allowed name is connected to at the address that was checked, Host kept.
    def pinned(host: str, _port: int) -> list[str]:
        return ["127.0.0.1"]

    limits = AdapterLimits(http_allow_hosts=("data.example.test",))
    adapter = HttpAdapter(config(url), limits, resolver=pinned)
    try:
        whoami = QueryPlan("whoami", (Column("host"),), (Column("host"),))
        rows = pa.Table.from_batches(list(adapter.execute(whoami))).to_pylist()
    finally:
        adapter.close()
    assert rows == [{"host": f"data.example.test:{port}"}]


def test_timeout_down_and_errors(server: tuple[str, ServerLog]) -> None:
    base, _log = server
    quick = AdapterLimits(http_allow_hosts=("127.0.0.1",), statement_timeout_s=0.3)
    with pytest.raises(SourceTimeout):
        run(base, query("slow", "id"), quick)
    down = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    with pytest.raises(SourceFailed, match="could not connect: connection refused"):
        run(down, query("offset", "id"), secret="tok-secret")
    with pytest.raises(SourceFailed, match="HTTP 404"):
        run(base, query("x", "id"), objects=[{"name": "x", "path": "/missing"}])
    with pytest.raises(BadRequest, match="no endpoint"):
        run(base, query("nope", "id"))
