"""Sources end to end, through the HTTP API only: a steward registers a real source of
every kind (CSV and Parquet files, an HTTP JSON service on loopback, a SQLite file, the
machine's PostgreSQL and MariaDB), introspects it, drafts, classifies and publishes an
entry; analysts then query it and get masked fields, their jurisdiction's rows only,
filters pushed down, every output format. Then the source's schema drifts: a refresh
follows it, and a query against a column the source lost is a 409 until then."""

from __future__ import annotations

import io
import json
import re
import sqlite3
import threading
import urllib.parse
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import orjson
import psycopg
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pymysql
import pytest
from sqlalchemy.engine import make_url

from audit.search import EventFilter, list_events
from catalog.demo.identity import id_number
from tests.conftest import (
    create_mysql_database,
    create_pg_database,
    drop_mysql_database,
    drop_pg_database,
)
from tests.gateway.demo_app import DemoGateway, demo_gateway

CASE = {"purpose": "supervision", "case_ref": "JW-2026-042"}
ID_MASK = re.compile(r"^\d{6}\*{8}[\dX]{4}$")
PHONE_MASK = re.compile(r"^1\d{2}\*{4}\d{4}$")
NAME_MASK = re.compile(r"^[\u4e00-\u9fff]{1,2}\*+$")
ALICE_REGION = "430121"

# (person_id, xm, sfzh, phone, region_code, amount): four rows in alice's county,
# five elsewhere; ID numbers carry a valid ISO 7064 check character (one ends in X).
ROWS: list[dict[str, Any]] = [
    {
        "person_id": i + 1,
        "xm": name,
        "sfzh": id_number(region, birth, seq),
        "phone": phone,
        "region_code": region,
        "amount": amount,
    }
    for i, (name, region, birth, seq, phone, amount) in enumerate(
        [
            ("张伟", "430121", "19560312", 11, "13800138000", 310.5),
            ("李娜", "430121", "19680704", 22, "13912345678", 455.0),
            ("王秀英", "430121", "19790101", 35, "15012345678", 120.0),
            ("欧阳娜娜", "430121", "19851111", 48, "18612345678", 980.25),
            ("刘洋", "430102", "19600229", 57, "13700001111", 500.0),
            ("陈静", "430102", "19720815", 64, "13600002222", 75.5),
            ("杨磊", "110105", "19880420", 73, "13500003333", 640.0),
            ("赵敏", "110105", "19901231", 86, "13400004444", 210.0),
            ("黄勇", "440106", "19550505", 99, "13300005555", 820.0),
        ]
    )
]
COLUMNS = list(ROWS[0])
ALICE_IDS = {r["person_id"] for r in ROWS if r["region_code"] == ALICE_REGION}
assert any(r["sfzh"].endswith("X") for r in ROWS), "one ID number should end in X"


# ---------------------------------------------------------------- a department's REST API


@dataclass
class JsonApi:
    """``/people``: page paging (``page``/``per_page``), honours ``region_code``; the
    records served can be changed by a test (schema drift). Every query is logged."""

    records: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    log: list[tuple[str, dict[str, str]]] = field(default_factory=list)
    base_url: str = ""


def _handler(api: JsonApi) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            """Quiet: tests read ``api.log``."""

        def do_GET(self) -> None:
            parts = urllib.parse.urlsplit(self.path)
            q = dict(urllib.parse.parse_qsl(parts.query))
            api.log.append((parts.path, q))
            rows = api.records.get(parts.path.strip("/"))
            if rows is None:
                self.send_response(404)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            if "region_code" in q:
                rows = [r for r in rows if r.get("region_code") == q["region_code"]]
            page, size = int(q.get("page", 1)), int(q.get("per_page", 10))
            data = json.dumps({"data": {"items": rows[(page - 1) * size : page * size]}}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

    return Handler


@contextmanager
def serve_json_api() -> Iterator[JsonApi]:
    """The department's REST API on an ephemeral loopback port, ``base_url`` set."""
    api = JsonApi()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(api))
    server.daemon_threads = True
    api.base_url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield api
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


# ---------------------------------------------------------------- the world of sources


@dataclass
class World:
    gw: DemoGateway
    data: Path
    pg_url: str
    mysql_url: str
    api: JsonApi


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    data = tmp_path_factory.mktemp("department-files")
    pg_name, pg_url = create_pg_database("sluice_src")
    my_name, my_url = create_mysql_database("sluice_src")
    try:
        with (
            serve_json_api() as api,
            demo_gateway(
                tmp_path_factory.mktemp("gw-sources"),
                file_roots=[data],
                http_allow_hosts=["127.0.0.1"],
            ) as gw,
        ):
            yield World(gw=gw, data=data, pg_url=pg_url, mysql_url=my_url, api=api)
    finally:
        drop_pg_database(pg_name)
        drop_mysql_database(my_name)


def _table(rows: list[dict[str, Any]], columns: list[str]) -> pa.Table:
    types = {"person_id": pa.int64(), "amount": pa.float64()}
    return pa.table(
        {c: pa.array([r[c] for r in rows], type=types.get(c, pa.string())) for c in columns}
    )


def _pg_exec(url: str, *statements: str, params: list[tuple[Any, ...]] | None = None) -> None:
    u = make_url(url)
    with psycopg.connect(host=u.host, port=u.port, user=u.username, dbname=u.database) as conn:
        for sql in statements:
            if params is not None and "%s" in sql:
                conn.cursor().executemany(sql, params)
            else:
                conn.execute(sql)


def _my_exec(url: str, *statements: str, params: list[tuple[Any, ...]] | None = None) -> None:
    u = make_url(url)
    conn = pymysql.connect(
        host=u.host,
        port=u.port or 3306,
        user=u.username,
        password="",
        database=u.database,
        charset="utf8mb4",
        autocommit=True,
    )
    try:
        with conn.cursor() as cur:
            for sql in statements:
                if params is not None and "%s" in sql:
                    cur.executemany(sql, params)
                else:
                    cur.execute(sql)
    finally:
        conn.close()


def _sqlite_exec(path: Path, *statements: str, params: list[tuple[Any, ...]] | None = None) -> None:
    with sqlite3.connect(path) as conn:
        for sql in statements:
            if params is not None and "?" in sql:
                conn.executemany(sql, params)
            else:
                conn.execute(sql)
    conn.close()


SQL_TYPES = {"person_id": "INTEGER", "amount": "DOUBLE PRECISION"}


@dataclass
class Made:
    """A source object holding ``ROWS``: how to register it, and how to change it."""

    settings: dict[str, Any]
    object_name: str
    drop: Callable[[str], None]
    rename: Callable[[str, str], None]
    retype: Callable[[str], None] | None = None  # amount becomes text


def _make_files(world: World, kind: str, name: str) -> Made:
    root = world.data / name
    root.mkdir()
    file = root / f"people.{kind}"

    def write(columns: list[str], rename: dict[str, str] | None = None) -> None:
        table = _table(ROWS, columns).rename_columns([(rename or {}).get(c, c) for c in columns])
        if kind == "csv":
            pacsv.write_csv(table, file)
        else:
            pq.write_table(table, file)

    write(COLUMNS)
    settings: dict[str, Any] = {"root": str(root)}
    if kind == "csv":  # CSV has no types: digit codes are declared strings
        settings["column_types"] = {c: "string" for c in ("sfzh", "phone", "region_code")}
    return Made(
        settings=settings,
        object_name=file.name,
        drop=lambda col: write([c for c in COLUMNS if c != col]),
        rename=lambda old, new: write(COLUMNS, {old: new}),
    )


def _make_sql(world: World, kind: str, name: str) -> Made:
    cols = ", ".join(
        f"{c} {SQL_TYPES.get(c, 'VARCHAR(64)')}" + (" PRIMARY KEY" if c == "person_id" else "")
        for c in COLUMNS
    )
    values = [tuple(r[c] for c in COLUMNS) for r in ROWS]
    if kind == "sqlite":
        path = world.data / f"{name}.db"
        run: Callable[..., None] = lambda *s, **kw: _sqlite_exec(path, *s, **kw)  # noqa: E731
        marks, url = ", ".join("?" * len(COLUMNS)), f"sqlite:///{path}"
    elif kind == "postgresql":
        run = lambda *s, **kw: _pg_exec(world.pg_url, *s, **kw)  # noqa: E731
        marks, url = ", ".join(["%s"] * len(COLUMNS)), world.pg_url
    else:
        run = lambda *s, **kw: _my_exec(world.mysql_url, *s, **kw)  # noqa: E731
        marks, url = ", ".join(["%s"] * len(COLUMNS)), world.mysql_url
    table = name.replace("-", "_")
    run(f"CREATE TABLE {table} ({cols})", f"INSERT INTO {table} VALUES ({marks})", params=values)
    if kind == "mysql":
        retype_sql = f"ALTER TABLE {table} MODIFY amount VARCHAR(32)"
    elif kind == "postgresql":
        retype_sql = f"ALTER TABLE {table} ALTER COLUMN amount TYPE VARCHAR(32)"
    else:
        retype_sql = ""
    return Made(
        settings={"url": url},
        object_name=table,
        drop=lambda col: run(f"ALTER TABLE {table} DROP COLUMN {col}"),
        rename=lambda old, new: run(f"ALTER TABLE {table} RENAME COLUMN {old} TO {new}"),
        retype=(lambda _col: run(retype_sql)) if retype_sql else None,
    )


def _make_http(world: World, kind: str, name: str) -> Made:
    world.api.records[name] = [dict(r) for r in ROWS]

    def drop(col: str) -> None:
        world.api.records[name] = [{k: v for k, v in r.items() if k != col} for r in ROWS]

    def rename(old: str, new: str) -> None:
        world.api.records[name] = [
            {(new if k == old else k): v for k, v in r.items()} for r in ROWS
        ]

    settings = {
        "base_url": world.api.base_url,
        "auth": "none",
        "page_size": 4,  # nine rows: three pages
        "objects": [
            {
                "name": "people",
                "path": f"/{name}",
                "records": "data.items",
                "paging": {"style": "page", "page_param": "page", "size_param": "per_page"},
                "filters": [{"field": "region_code", "op": "=", "param": "region_code"}],
            }
        ],
    }
    return Made(settings=settings, object_name="people", drop=drop, rename=rename)


MAKERS: dict[str, Callable[[World, str, str], Made]] = {
    "csv": _make_files,
    "parquet": _make_files,
    "http": _make_http,
    "sqlite": _make_sql,
    "postgresql": _make_sql,
    "mysql": _make_sql,
}
# civil affairs registers the files and the REST API, finance its databases
STEWARDS = {
    "csv": ("carl", "civil"),
    "parquet": ("carl", "civil"),
    "http": ("carl", "civil"),
    "sqlite": ("fiona", "finance"),
    "postgresql": ("fiona", "finance"),
    "mysql": ("fiona", "finance"),
}
KINDS = list(MAKERS)


# ---------------------------------------------------------------- the steward's side


def _call(world: World, who: str, method: str, url: str, body: Any = None) -> Any:
    return world.gw.client.request(method, url, json=body, headers=world.gw.headers(who))


def _ok(resp: Any, status: int = 200) -> Any:
    assert resp.status_code == status, resp.text
    return resp.json()


def _register_and_publish(world: World, kind: str, name: str) -> tuple[str, Made, int]:
    """Register, introspect, draft, classify, publish; returns (dataset id, source,
    schema version)."""
    made = MAKERS[kind](world, kind, name)
    steward, dept = STEWARDS[kind]
    source_id = f"{dept}-{name}"
    created = _ok(
        _call(
            world,
            steward,
            "POST",
            "/api/v1/sources",
            {
                "id": source_id,
                "department": dept,
                "kind": kind,
                "display_name": f"{kind} people",
                "settings": made.settings,
            },
        ),
        201,
    )
    assert created["kind"] == kind and not created["has_secret"]

    objects = _ok(_call(world, steward, "POST", f"/api/v1/sources/{source_id}/introspect"))
    people = next(o for o in objects if o["name"] == made.object_name)
    columns = {c["name"]: c for c in people["columns"]}
    assert list(columns) == COLUMNS
    assert columns["region_code"]["type"] == "string", columns["region_code"]
    assert columns["amount"]["type"] in ("float64", "decimal")
    # the sample already tells the steward where the ID numbers and phones are
    assert columns["sfzh"]["suggestion"]["pi_category"] == "id_number"
    assert columns["phone"]["suggestion"]["pi_category"] == "phone"

    dataset_id = f"{dept}.{name.replace('-', '_')}"
    draft = _ok(
        _call(
            world,
            steward,
            "POST",
            "/api/v1/datasets",
            {
                "source_id": source_id,
                "object_name": made.object_name,
                "dataset_id": dataset_id,
                "title_zh": "困难群众名册",
                "title_en": "People",
                "allowed_purposes": ["supervision"],
            },
        ),
        201,
    )
    assert draft["status"] == "draft" and draft["schema_version"] == 1
    # a draft is not queryable yet
    assert world.gw.query("alice", dataset_id, {"limit": 1, **CASE}).status_code == 404

    classified = _ok(
        _call(
            world,
            steward,
            "PATCH",
            f"/api/v1/datasets/{dataset_id}",
            {
                "region_field": "region_code",
                "fields": {
                    "person_id": {"level": "L1", "pi_category": "none"},
                    "xm": {"level": "L3", "pi_category": "name"},
                    "sfzh": {"level": "L3", "pi_category": "id_number"},
                    "phone": {"level": "L3", "pi_category": "phone"},
                    "region_code": {"level": "L2", "pi_category": "none"},
                    "amount": {"level": "L2", "pi_category": "none"},
                },
            },
        )
    )
    assert classified["region_field"] == "region_code"
    assert classified["level"] == "L3"
    published = _ok(_call(world, steward, "POST", f"/api/v1/datasets/{dataset_id}/publish"))
    assert published["status"] == "published"
    return dataset_id, made, int(published["schema_version"])


def _rows(resp: Any) -> list[dict[str, Any]]:
    assert resp.status_code == 200, resp.text
    rows: list[dict[str, Any]] = orjson.loads(resp.content)["rows"]
    return rows


def _events(world: World, dataset_id: str, client_request_id: str) -> list[dict[str, Any]]:
    """A request's events, found by the X-Request-Id its client sent: the id on record
    is the gateway's own; the client's is kept beside it (``details``)."""
    page = list_events(
        store=world.gw.services.audit.store,
        filters=EventFilter(dataset=dataset_id),
        limit=200,
        order="asc",
    )
    return [
        e for e in page["items"]
        if (e.get("details") or {}).get("client_request_id") == client_request_id
    ]  # fmt: skip


# ---------------------------------------------------------------- register and query


@pytest.mark.parametrize("kind", KINDS)
def test_register_publish_and_query(world: World, kind: str) -> None:
    dataset_id, _made, _version = _register_and_publish(world, kind, f"people-{kind}")
    by_id = {r["person_id"]: r for r in ROWS}
    gw = world.gw

    # alice (L3, county 430121): ID numbers and phones masked, only her county's rows
    fields = ["person_id", "xm", "sfzh", "phone", "region_code", "amount"]
    alice = _rows(gw.query("alice", dataset_id, {"fields": fields, **CASE}))
    assert {r["person_id"] for r in alice} == ALICE_IDS
    for row in alice:
        original = by_id[row["person_id"]]
        assert row["region_code"] == ALICE_REGION
        assert ID_MASK.fullmatch(row["sfzh"]), row
        assert row["sfzh"][:6] == original["sfzh"][:6]
        assert row["sfzh"][-4:] == original["sfzh"][-4:]
        assert PHONE_MASK.fullmatch(row["phone"]), row
        assert NAME_MASK.fullmatch(row["xm"]) and original["xm"].startswith(row["xm"][0]), row
        assert row["amount"] == pytest.approx(original["amount"])

    # arthur (L2, all regions): every row, the L3 fields withheld
    arthur = gw.query("arthur", dataset_id, {**CASE, "order_by": ["person_id"]})
    body = orjson.loads(arthur.content)
    assert {c["name"] for c in body["columns"]} == {"person_id", "region_code", "amount"}
    assert [r["person_id"] for r in _rows(arthur)] == [r["person_id"] for r in ROWS]
    assert gw.query("arthur", dataset_id, {"fields": ["sfzh"], **CASE}).status_code == 403

    # filters, order and limit go to the source; the row filter still applies
    where = {
        "fields": ["person_id", "amount"],
        "where": [{"field": "amount", "op": ">=", "value": 300}],
        "order_by": ["-amount"],
        **CASE,
    }
    expected = sorted(
        (r for r in ROWS if r["amount"] >= 300), key=lambda r: r["amount"], reverse=True
    )
    assert [r["person_id"] for r in _rows(gw.query("arthur", dataset_id, where))] == [
        r["person_id"] for r in expected
    ]
    assert [r["person_id"] for r in _rows(gw.query("alice", dataset_id, where))] == [
        r["person_id"] for r in expected if r["region_code"] == ALICE_REGION
    ]
    other_county = {
        "fields": ["person_id"],
        "where": [{"field": "region_code", "op": "=", "value": "430102"}],
        **CASE,
    }
    assert _rows(gw.query("alice", dataset_id, other_county)) == []
    assert len(_rows(gw.query("arthur", dataset_id, other_county))) == 2
    limited = gw.query("arthur", dataset_id, {"fields": ["person_id"], "limit": 3, **CASE})
    assert len(_rows(limited)) == 3 and orjson.loads(limited.content)["truncated"] is True

    # a purpose the entry does not allow, or none at all, is refused
    wrong = gw.query("alice", dataset_id, {"purpose": "curiosity", "case_ref": "X-1"})
    assert wrong.status_code == 403
    assert gw.query("alice", dataset_id, {"case_ref": "X-1"}).status_code == 403

    if kind == "http":
        # the equality filter on region_code was sent to the API as a query parameter
        sent = [q for path, q in world.api.log if path == f"/people-{kind}"]
        assert any(q.get("region_code") == "430102" for q in sent), sent
        # nine records, four a page: a full read walked three pages
        assert {"1", "2", "3"} <= {q.get("page") for q in sent}


def test_every_output_format(world: World) -> None:
    dataset_id, _made, _version = _register_and_publish(world, "parquet", "formats-parquet")
    body = {"fields": ["person_id", "sfzh", "region_code"], "order_by": ["person_id"], **CASE}
    want = sorted(ALICE_IDS)

    ndjson = world.gw.query("alice", dataset_id, body, format="ndjson")
    assert ndjson.status_code == 200, ndjson.text
    lines = [orjson.loads(line) for line in ndjson.content.splitlines() if line]
    assert [r["person_id"] for r in lines] == want
    assert all(ID_MASK.fullmatch(r["sfzh"]) for r in lines)

    csv = world.gw.query("alice", dataset_id, body, format="csv", bom="true")
    assert csv.status_code == 200 and csv.content.startswith(b"\xef\xbb\xbf")
    table = pacsv.read_csv(
        io.BytesIO(csv.content[3:]),
        convert_options=pacsv.ConvertOptions(column_types={"region_code": pa.string()}),
    )
    assert table.column("person_id").to_pylist() == want
    assert set(table.column("region_code").to_pylist()) == {ALICE_REGION}

    parquet = world.gw.query("alice", dataset_id, body, format="parquet")
    assert parquet.status_code == 200, parquet.text
    table = pq.read_table(io.BytesIO(parquet.content))
    assert table.column_names == ["person_id", "sfzh", "region_code"]
    assert all(ID_MASK.fullmatch(v) for v in table.column("sfzh").to_pylist())

    arrow = world.gw.query("alice", dataset_id, body, format="arrow")
    assert arrow.status_code == 200, arrow.text
    table = pa.ipc.open_stream(io.BytesIO(arrow.content)).read_all()
    assert table.column("person_id").to_pylist() == want


# ---------------------------------------------------------------- schema drift


@pytest.mark.parametrize("kind", KINDS)
def test_refresh_follows_drift_and_removed_field_is_gone_at_once(world: World, kind: str) -> None:
    dataset_id, made, version = _register_and_publish(world, kind, f"drift-{kind}")
    steward, _dept = STEWARDS[kind]
    gw = world.gw

    made.drop("phone")
    report = _ok(_call(world, steward, "POST", f"/api/v1/datasets/{dataset_id}/refresh"))
    assert report["removed"] == ["phone"]
    assert report["added"] == [] and report["retyped"] == []
    assert report["schema_version"] == version + 1

    gone = gw.query("alice", dataset_id, {"fields": ["person_id", "phone"], **CASE})
    assert gone.status_code == 400, gone.text
    assert "phone" in gone.json()["message"]
    rows = _rows(gw.query("alice", dataset_id, CASE))
    assert {r["person_id"] for r in rows} == ALICE_IDS
    assert all("phone" not in r and ID_MASK.fullmatch(r["sfzh"]) for r in rows)

    # nothing changed: the version stays
    again = _ok(_call(world, steward, "POST", f"/api/v1/datasets/{dataset_id}/refresh"))
    assert again["schema_version"] == version + 1 and again["removed"] == []

    if made.retype is not None:
        made.retype("amount")
        retyped = _ok(_call(world, steward, "POST", f"/api/v1/datasets/{dataset_id}/refresh"))
        assert [r["name"] for r in retyped["retyped"]] == ["amount"]
        assert retyped["retyped"][0]["new"] == "string"
        assert retyped["schema_version"] == version + 2
        amounts = _rows(gw.query("arthur", dataset_id, {"fields": ["amount"], **CASE}))
        assert len(amounts) == len(ROWS) and all(isinstance(r["amount"], str) for r in amounts)


@pytest.mark.parametrize("kind", ["csv", "parquet", "sqlite", "postgresql", "mysql"])
@pytest.mark.parametrize("change", ["drop", "rename"])
def test_query_before_refresh_is_409_schema_changed(world: World, kind: str, change: str) -> None:
    dataset_id, made, _version = _register_and_publish(world, kind, f"stale-{change}-{kind}")
    if change == "drop":
        made.drop("amount")
    else:
        made.rename("amount", "amount_cny")
    request_id = f"stale-{change}-{kind}"
    resp = world.gw.client.post(
        f"/api/v1/datasets/{dataset_id}/query",
        json={"fields": ["person_id", "amount"], **CASE},
        headers={**world.gw.headers("arthur"), "X-Request-Id": request_id},
    )
    assert resp.status_code == 409, resp.text
    error = resp.json()
    assert error["code"] == "schema_changed"
    assert "refresh" in error["message"]
    assert "amount" in error["message"]

    # the failure is on record, after the start
    events = _events(world, dataset_id, request_id)
    assert [e["type"] for e in events] == ["query.started", "query.failed"]
    assert len({e["request_id"] for e in events}) == 1
    assert events[0]["request_id"] != request_id  # the gateway's id, not the client's
    assert events[-1]["details"]["error"]["code"] == "schema_changed"

    # fields the source still has keep working
    assert len(_rows(world.gw.query("arthur", dataset_id, {"fields": ["person_id"], **CASE}))) == 9


def test_csv_column_types_are_checked(world: World) -> None:
    made = _make_files(world, "csv", "typed-csv")
    body = {"department": "civil", "kind": "csv", "display_name": "typed"}
    for bad in ({"region_code": "varchar"}, ["region_code"], {"": "string"}):
        resp = _call(
            world,
            "carl",
            "POST",
            "/api/v1/sources",
            {
                **body,
                "id": "civil-typed-bad",
                "settings": {**made.settings, "column_types": bad},
            },
        )
        assert resp.status_code == 400, resp.text
        assert "column_types" in resp.json()["message"]
    parquet = _make_files(world, "parquet", "typed-parquet")
    resp = _call(
        world,
        "carl",
        "POST",
        "/api/v1/sources",
        {
            **body,
            "id": "civil-typed-pq",
            "kind": "parquet",
            "settings": {**parquet.settings, "column_types": {"region_code": "string"}},
        },
    )
    assert resp.status_code == 400, resp.text

    # undeclared, Arrow infers the codes as integers; declared, they stay text
    undeclared = {k: v for k, v in made.settings.items() if k != "column_types"}
    _ok(
        _call(
            world,
            "carl",
            "POST",
            "/api/v1/sources",
            {
                **body,
                "id": "civil-typed-inferred",
                "settings": undeclared,
            },
        ),
        201,
    )
    objects = _ok(_call(world, "carl", "POST", "/api/v1/sources/civil-typed-inferred/introspect"))
    assert {c["name"]: c["type"] for c in objects[0]["columns"]}["region_code"] == "int64"
