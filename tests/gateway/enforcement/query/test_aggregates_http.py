"""Aggregates through the HTTP API (issue 16), on a source of every kind: a civil
affairs steward registers a village-level dibao roll (SQLite, PostgreSQL, MariaDB,
CSV, Parquet, a REST API); tina, an analyst at one township (clearance L2, jurisdiction
``430121101``), asks for "dibao recipients per village" and gets counts and sums per
village of her township only, the villages with fewer than 5 recipients (the L3 entry's
threshold) withheld and flagged, and no personal record. Published groups equal a
direct ``GROUP BY`` on the source. Attacks: grouping on a denied field, summing a
masked one, filtering on another field to difference a withheld village out, and the
trail records each aggregate query with its groups and suppressed counts."""

from __future__ import annotations

import io
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import openpyxl
import orjson
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.ipc as ipc
import pyarrow.parquet as pq
import pytest
import sqlalchemy as sa

from audit.search import EventFilter, list_events
from catalog.demo.identity import id_number
from catalog.models import User
from tests.conftest import (
    create_mysql_database,
    create_pg_database,
    drop_mysql_database,
    drop_pg_database,
)
from tests.gateway.demo_app import DemoGateway, demo_gateway
from tests.gateway.stewardship.test_sources_end_to_end import (
    JsonApi,
    _my_exec,
    _pg_exec,
    _sqlite_exec,
    serve_json_api,
)

CASE = {"purpose": "supervision", "case_ref": "MZ-2026-016"}
TOWNSHIP = "430121101"
THRESHOLD = 5  # the entry is L3 (its ID numbers and names)
# village -> recipients: two villages of tina's township under the threshold, one of
# another township, one of another county
VILLAGES = {
    "430121101001": 40,
    "430121101002": 18,
    "430121101003": 3,
    "430121101004": 1,
    "430121102005": 2,
    "430102001001": 6,
}
NAMES = ["张伟", "李娜", "王秀英", "刘洋", "陈静", "杨磊", "赵敏", "黄勇", "周芳", "吴刚"]


def _rows() -> list[dict[str, Any]]:
    rows = []
    seq = 0
    for village, count in VILLAGES.items():
        for _ in range(count):
            seq += 1
            rows.append(
                {
                    "person_id": seq,
                    "id_number": id_number(
                        village[:6], f"19{50 + seq % 40:02d}0{1 + seq % 9}1{seq % 9}", seq
                    ),
                    "name": NAMES[seq % len(NAMES)],
                    "village_code": village,
                    "status": "active" if seq % 3 else "suspended",
                    "household_size": 1 + seq % 4,
                    "monthly_amount": 300.0 + (seq * 37) % 500,
                    "benefit_total": 1000.0 + (seq * 131) % 4000,
                }
            )
    return rows


ROWS = _rows()
COLUMNS = list(ROWS[0])
SQL_TYPES = {
    "person_id": "INTEGER",
    "household_size": "INTEGER",
    "monthly_amount": "DOUBLE PRECISION",
    "benefit_total": "DOUBLE PRECISION",
}
CLASSIFICATION = {
    "person_id": {"level": "L1", "pi_category": "none"},
    "id_number": {"level": "L3", "pi_category": "id_number"},  # above tina's clearance
    "name": {"level": "L3", "pi_category": "name"},
    "village_code": {"level": "L1", "pi_category": "none"},
    "status": {"level": "L1", "pi_category": "none"},
    "household_size": {"level": "L2", "pi_category": "none"},
    "monthly_amount": {"level": "L2", "pi_category": "none"},
    # at tina's clearance with a steward's mask: masked, so counted but never summed
    "benefit_total": {"level": "L2", "pi_category": "none", "mask_override": "round:100"},
}
KINDS = ["sqlite", "postgresql", "mysql", "csv", "parquet", "http"]
PER_VILLAGE = {
    "group_by": ["village_code"],
    "aggregates": [
        {"fn": "count", "as": "recipients"},
        {"fn": "sum", "field": "monthly_amount", "as": "total"},
        {"fn": "avg", "field": "household_size", "as": "household"},
        {"fn": "count", "field": "benefit_total", "as": "with_benefit"},
    ],
    **CASE,
}
ALIASES = ["recipients", "total", "household", "with_benefit"]


@dataclass
class World:
    gw: DemoGateway
    data: Path
    api: JsonApi
    pg_url: str
    mysql_url: str
    datasets: dict[str, str]
    direct: dict[str, Callable[..., list[tuple[Any, ...]]]]


def _table() -> pa.Table:
    types = {
        "person_id": pa.int64(),
        "household_size": pa.int64(),
        "monthly_amount": pa.float64(),
        "benefit_total": pa.float64(),
    }
    return pa.table({c: pa.array([r[c] for r in ROWS], types.get(c, pa.string())) for c in COLUMNS})


def _sql_source(world: World, kind: str) -> tuple[dict[str, Any], str, Callable[..., Any]]:
    cols = ", ".join(f"{c} {SQL_TYPES.get(c, 'VARCHAR(64)')}" for c in COLUMNS)
    values = [tuple(r[c] for c in COLUMNS) for r in ROWS]
    if kind == "sqlite":
        path = world.data / "villages.db"
        marks, url = ", ".join("?" * len(COLUMNS)), f"sqlite:///{path}"
        run: Callable[..., None] = lambda *s, **kw: _sqlite_exec(path, *s, **kw)  # noqa: E731
    elif kind == "postgresql":
        marks, url = ", ".join(["%s"] * len(COLUMNS)), world.pg_url
        run = lambda *s, **kw: _pg_exec(world.pg_url, *s, **kw)  # noqa: E731
    else:
        marks, url = ", ".join(["%s"] * len(COLUMNS)), world.mysql_url
        run = lambda *s, **kw: _my_exec(world.mysql_url, *s, **kw)  # noqa: E731
    run(
        f"CREATE TABLE dibao_villages ({cols})",
        f"INSERT INTO dibao_villages VALUES ({marks})",
        params=values,
    )

    def direct(sql: str, **params: Any) -> list[tuple[Any, ...]]:
        engine = sa.create_engine(url)
        try:
            with engine.connect() as conn:
                return [tuple(r) for r in conn.execute(sa.text(sql), params).fetchall()]
        finally:
            engine.dispose()

    world.direct[kind] = direct
    return {"url": url}, "dibao_villages", run


def _file_source(world: World, kind: str) -> tuple[dict[str, Any], str]:
    root = world.data / kind
    root.mkdir()
    if kind == "csv":
        pacsv.write_csv(_table(), root / "villages.csv")
        types = {c: "string" for c in ("id_number", "village_code", "name", "status")}
        return {"root": str(root), "column_types": types}, "villages.csv"
    pq.write_table(_table(), root / "villages.parquet")
    return {"root": str(root)}, "villages.parquet"


def _http_source(world: World) -> tuple[dict[str, Any], str]:
    world.api.records["villages"] = [dict(r) for r in ROWS]
    return {
        "base_url": world.api.base_url,
        "auth": "none",
        "page_size": 7,
        "objects": [
            {
                "name": "villages",
                "path": "/villages",
                "records": "data.items",
                "paging": {"style": "page", "page_param": "page", "size_param": "per_page"},
            }
        ],
    }, "villages"


def _ok(resp: Any, status: int = 200) -> Any:
    assert resp.status_code == status, resp.text
    return resp.json()


def _register(world: World, kind: str) -> str:
    if kind in ("sqlite", "postgresql", "mysql"):
        settings, object_name, _run = _sql_source(world, kind)
    elif kind == "http":
        settings, object_name = _http_source(world)
    else:
        settings, object_name = _file_source(world, kind)
    gw, carl = world.gw, world.gw.headers("carl")
    source_id = f"civil-villages-{kind}"
    _ok(
        gw.client.post(
            "/api/v1/sources",
            headers=carl,
            json={
                "id": source_id,
                "department": "civil",
                "kind": kind,
                "display_name": f"villages ({kind})",
                "settings": settings,
            },
        ),
        201,
    )
    _ok(gw.client.post(f"/api/v1/sources/{source_id}/introspect", headers=carl))
    dataset_id = f"civil.dibao_villages_{kind}"
    _ok(
        gw.client.post(
            "/api/v1/datasets",
            headers=carl,
            json={
                "source_id": source_id,
                "object_name": object_name,
                "dataset_id": dataset_id,
                "title_zh": "低保对象(村)",
                "title_en": "Dibao recipients by village",
                "allowed_purposes": ["supervision"],
            },
        ),
        201,
    )
    _ok(
        gw.client.patch(
            f"/api/v1/datasets/{dataset_id}",
            headers=carl,
            json={"region_field": "village_code", "fields": CLASSIFICATION},
        )
    )
    published = _ok(gw.client.post(f"/api/v1/datasets/{dataset_id}/publish", headers=carl))
    assert published["status"] == "published" and published["level"] == "L3"
    return dataset_id


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    data = tmp_path_factory.mktemp("village-files")
    pg_name, pg_url = create_pg_database("sluice_agg_http")
    my_name, my_url = create_mysql_database("sluice_agg_http")
    try:
        with (
            serve_json_api() as api,
            demo_gateway(
                tmp_path_factory.mktemp("gw-aggregates"),
                file_roots=[data],
                http_allow_hosts=["127.0.0.1"],
            ) as gw,
        ):
            with gw.services.sessions() as session:
                session.add(
                    User(
                        subject="tina",
                        display_name="Tina 唐娜 (analyst, 一个乡镇)",
                        department=None,
                        clearance="L2",
                        jurisdiction=[TOWNSHIP],
                        roles=["analyst"],
                    )
                )
                session.commit()
            gw.services.authorizer.assign(subject="tina", role="analyst", domain="*")
            world = World(
                gw=gw, data=data, api=api, pg_url=pg_url, mysql_url=my_url, datasets={}, direct={}
            )
            for kind in KINDS:
                world.datasets[kind] = _register(world, kind)
            yield world
    finally:
        drop_pg_database(pg_name)
        drop_mysql_database(my_name)


def _answer(
    world: World, kind: str, body: dict[str, Any], who: str = "tina", **params: Any
) -> dict[str, Any]:
    resp = world.gw.query(who, world.datasets[kind], body, **params)
    assert resp.status_code == 200, resp.text
    answer: dict[str, Any] = orjson.loads(resp.content)
    return answer


def _expected_per_village() -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for village in VILLAGES:
        if not village.startswith(TOWNSHIP):
            continue
        members = [r for r in ROWS if r["village_code"] == village]
        out[village] = {
            "recipients": len(members),
            "total": sum(r["monthly_amount"] for r in members),
            "household": sum(r["household_size"] for r in members) / len(members),
            "with_benefit": len(members),
        }
    return out


def _split_withheld(
    world: World, kind: str, group: list[str], field: str, who: str = "tina"
) -> set[tuple[Any, ...]] | None:
    """The coarse groups (over ``group``) whose breakdown by ``field``, asked through the
    API with a count, holds a withheld group; ``None``: the breakdown is refused whole.
    An aggregate over ``field`` is published in a coarse group only outside this set."""
    body = {**CASE, "group_by": [*group, field], "aggregates": [{"fn": "count", "as": "n"}]}
    resp = world.gw.query(who, world.datasets[kind], body)
    if resp.status_code == 403:
        return None
    assert resp.status_code == 200, resp.text
    rows = orjson.loads(resp.content)["rows"]
    return {tuple(r[g] for g in group) for r in rows if r["_suppressed"]}


def _hidden_by_split(split: set[tuple[Any, ...]] | None, key: tuple[Any, ...]) -> bool:
    return split is None or key in split


# ---------------------------------------------------------------- the analyst's answer


@pytest.mark.parametrize("kind", KINDS)
def test_recipients_per_village_for_a_township_analyst(world: World, kind: str) -> None:
    resp = world.gw.query("tina", world.datasets[kind], PER_VILLAGE)
    assert resp.status_code == 200, resp.text
    answer = orjson.loads(resp.content)
    expected = _expected_per_village()
    rows = answer["rows"]
    # every village of her township, in order, none dropped; nothing of another township
    assert [r["village_code"] for r in rows] == sorted(expected)
    split = {
        alias: _split_withheld(world, kind, ["village_code"], field)
        for alias, field in (
            ("total", "monthly_amount"),
            ("household", "household_size"),
            ("with_benefit", "benefit_total"),
        )
    }
    for row in rows:
        want = expected[row["village_code"]]
        if want["recipients"] < THRESHOLD:
            assert row["_suppressed"] == ALIASES
            assert all(row[a] is None for a in ALIASES)
            continue
        assert row["recipients"] == want["recipients"]
        # an aggregate over a field is withheld exactly where the breakdown by that field
        # withholds a group (red team 5); a published one is the true value
        key = (row["village_code"],)
        hidden = [a for a in ALIASES[1:] if _hidden_by_split(split[a], key)]
        assert row["_suppressed"] == hidden
        for alias in ALIASES[1:]:
            if alias in hidden:
                assert row[alias] is None
            else:
                assert row[alias] == pytest.approx(want[alias])
    # near-unique amounts and benefits: one row per value, withheld in every village; the
    # 18-row village's households of 4-5 rows per size hide its average too
    assert [r["_suppressed"] for r in rows] == [
        ["total", "with_benefit"],
        ["total", "household", "with_benefit"],
        ALIASES,
        ALIASES,
    ]
    assert answer["aggregate"] == {
        "min_group_size": THRESHOLD,
        "groups": 4,
        "suppressed": 4,
        "groups_read": 4,
    }
    assert [c["name"] for c in answer["columns"]] == ["village_code", *ALIASES, "_suppressed"]
    assert answer["columns"][2] == {
        "name": "total",
        "action": "aggregate",
        "method": "sum(monthly_amount)",
    }
    # no personal record: no ID number, name or person id of anyone leaves
    text = resp.content.decode()
    for row in ROWS:
        assert row["id_number"] not in text and row["name"] not in text
    assert "person_id" not in text


@pytest.mark.parametrize("kind", ["sqlite", "postgresql", "mysql"])
def test_published_groups_equal_a_direct_group_by(world: World, kind: str) -> None:
    """Village and status: counts; status alone: the household sizes' breakdown is large
    enough there for ``min`` and ``count_distinct`` to be published and checked."""
    for group in (["village_code", "status"], ["status"]):
        _check_against_direct(world, kind, group)


def _check_against_direct(world: World, kind: str, group: list[str]) -> None:
    body = {
        **PER_VILLAGE,
        "group_by": group,
        "aggregates": [
            {"fn": "count", "as": "n"},
            {"fn": "sum", "field": "monthly_amount", "as": "total"},
            {"fn": "min", "field": "household_size", "as": "smallest"},
            {"fn": "count_distinct", "field": "household_size", "as": "sizes"},
        ],
    }
    rows = _answer(world, kind, body)["rows"]
    columns = ", ".join(group)
    direct = world.direct[kind](
        f"SELECT {columns}, COUNT(*), SUM(monthly_amount), MIN(household_size), "
        "COUNT(DISTINCT household_size) FROM dibao_villages "
        f"WHERE village_code LIKE :township GROUP BY {columns}",
        township=f"{TOWNSHIP}%",
    )
    width = len(group)
    true = {tuple(r[:width]): r[width:] for r in direct}
    assert {tuple(r[g] for g in group) for r in rows} == set(true)  # none dropped
    assert [r for r in rows if r["n"] is not None], "some groups should be large enough"
    by_amount = _split_withheld(world, kind, group, "monthly_amount")
    by_size = _split_withheld(world, kind, group, "household_size")
    for row in rows:
        key = tuple(row[g] for g in group)
        n, _total, smallest, sizes = true[key]
        if n < THRESHOLD:
            assert row["_suppressed"] == ["n", "total", "smallest", "sizes"]
        if "n" in row["_suppressed"]:
            continue
        assert row["n"] == n
        # monthly amounts are near-unique: their breakdown withholds everywhere
        assert "total" in row["_suppressed"] and row["total"] is None
        assert _hidden_by_split(by_amount, key)
        size_hidden = _hidden_by_split(by_size, key)
        assert ("smallest" in row["_suppressed"]) == size_hidden
        assert ("sizes" in row["_suppressed"]) == size_hidden
        if not size_hidden:
            assert (row["smallest"], row["sizes"]) == (smallest, sizes)
    if group == ["status"]:
        assert all(r["smallest"] is not None for r in rows), rows
    # a single withheld group would be given back by the total of any coarser answer
    assert sum(1 for r in rows if r["n"] is None) != 1


def test_every_format_flags_the_suppressed_cells(world: World) -> None:
    kind = "sqlite"
    arrow = ipc.open_stream(
        world.gw.query("tina", world.datasets[kind], PER_VILLAGE, format="arrow").content
    ).read_all()
    assert arrow.schema.field("_suppressed").type == pa.list_(pa.string())
    flagged = [["total", "with_benefit"], ["total", "household", "with_benefit"], ALIASES, ALIASES]
    assert arrow.column("_suppressed").to_pylist() == flagged
    assert arrow.column("recipients").to_pylist() == [40, 18, None, None]
    assert arrow.column("total").to_pylist() == [None] * 4
    parquet = pq.read_table(
        pa.BufferReader(
            world.gw.query("tina", world.datasets[kind], PER_VILLAGE, format="parquet").content
        )
    )
    assert parquet.column("_suppressed").to_pylist() == flagged
    csv = world.gw.query("tina", world.datasets[kind], PER_VILLAGE, format="csv").text
    lines = csv.strip().splitlines()
    assert (
        lines[0] == '"village_code","recipients","total","household","with_benefit","_suppressed"'
    )
    assert lines[3] == '"430121101003",,,,,"recipients;total;household;with_benefit"'
    assert lines[1].endswith(',"total;with_benefit"')
    ndjson = [
        orjson.loads(line)
        for line in world.gw.query(
            "tina", world.datasets[kind], PER_VILLAGE, format="ndjson"
        ).content.splitlines()
    ]
    assert [r["_suppressed"] for r in ndjson] == flagged
    book = openpyxl.load_workbook(
        io.BytesIO(
            world.gw.query("tina", world.datasets[kind], PER_VILLAGE, format="xlsx").content
        ),
        read_only=True,
    )
    sheet = [list(r) for r in book.worksheets[0].iter_rows(values_only=True)]
    header = sheet[0]
    flags = [row[header.index("_suppressed")] for row in sheet[1:5]]
    assert flags == [";".join(f) for f in flagged]
    assert [row[0] for row in sheet[1:5]] == sorted(_expected_per_village())


# ---------------------------------------------------------------- attacks


@pytest.mark.parametrize("kind", ["sqlite", "http"])
def test_grouping_on_a_denied_field_is_403(world: World, kind: str) -> None:
    for field in ("id_number", "name"):
        body = {**PER_VILLAGE, "group_by": [field]}
        resp = world.gw.query("tina", world.datasets[kind], body)
        assert resp.status_code == 403, resp.text
        assert resp.json()["details"]["reason_codes"] == [
            {"code": "group_by_refused", "params": {"fields": [field]}}
        ]


@pytest.mark.parametrize("kind", ["postgresql", "parquet"])
def test_summing_a_masked_field_is_403_counting_it_is_not(world: World, kind: str) -> None:
    for fn in ("sum", "avg", "min", "max"):
        body = {**PER_VILLAGE, "aggregates": [{"fn": fn, "field": "benefit_total", "as": "x"}]}
        resp = world.gw.query("tina", world.datasets[kind], body)
        assert resp.status_code == 403, resp.text
        assert resp.json()["details"]["reason_codes"] == [
            {"code": "aggregate_refused", "params": {"fields": ["benefit_total"]}}
        ]
    # a denied field is not even counted
    body = {
        **PER_VILLAGE,
        "aggregates": [{"fn": "count_distinct", "field": "id_number", "as": "p"}],
    }
    resp = world.gw.query("tina", world.datasets[kind], body)
    assert resp.status_code == 403
    assert resp.json()["details"]["reason_codes"][0]["code"] == "aggregate_refused"
    # grouping on the masked field is refused too (as sorting on it is)
    body = {**PER_VILLAGE, "group_by": ["benefit_total"]}
    assert world.gw.query("tina", world.datasets[kind], body).status_code == 403


@pytest.mark.parametrize("kind", ["mysql", "csv"])
def test_differencing_with_filters_is_refused_or_gives_nothing(world: World, kind: str) -> None:
    """A filter on another field would split villages and let two answers be subtracted:
    refused. A filter on the group field keeps or drops whole villages: a withheld
    village stays withheld, the others keep their numbers, in every answer."""
    dataset = world.datasets[kind]
    for where in (
        {"field": "monthly_amount", "op": ">", "value": 400},
        {"field": "status", "op": "=", "value": "active"},
        {"field": "id_number", "op": "prefix", "value": "4301"},
    ):
        resp = world.gw.query("tina", dataset, {**PER_VILLAGE, "where": [where]})
        assert resp.status_code == 400, resp.text
        assert "group fields only" in resp.json()["message"]
    whole = {r["village_code"]: r for r in _answer(world, kind, PER_VILLAGE)["rows"]}
    filters = [
        {"field": "village_code", "op": "=", "value": "430121101003"},
        {"field": "village_code", "op": "in", "value": ["430121101001", "430121101004"]},
        {"field": "village_code", "op": "!=", "value": "430121101001"},
        {"field": "village_code", "op": "prefix", "value": "4301211010"},
        {"field": "village_code", "op": ">", "value": "430121101002"},
    ]
    for where in filters:
        part = _answer(world, kind, {**PER_VILLAGE, "where": [where]})["rows"]
        assert part, where
        for row in part:
            assert row == whole[row["village_code"]], where
    # with status grouped too, filtering on it is fine: the cells are the whole answer's
    body = {**PER_VILLAGE, "group_by": ["village_code", "status"]}
    cells = {(r["village_code"], r["status"]): r for r in _answer(world, kind, body)["rows"]}
    active = _answer(
        world, kind, {**body, "where": [{"field": "status", "op": "=", "value": "active"}]}
    )["rows"]
    assert active and all(r == cells[(r["village_code"], "active")] for r in active)


def test_another_township_is_out_of_reach(world: World) -> None:
    """The row filter applies before grouping: a filter cannot reach past it."""
    where = [{"field": "village_code", "op": "=", "value": "430121102005"}]
    rows = _answer(world, "parquet", {**PER_VILLAGE, "where": where})["rows"]
    assert rows == []
    everything = _answer(
        world,
        "parquet",
        {**PER_VILLAGE, "group_by": [], "aggregates": [{"fn": "count", "as": "n"}]},
    )
    mine = sum(n for v, n in VILLAGES.items() if v.startswith(TOWNSHIP))
    assert everything["rows"] == [{"n": mine, "_suppressed": []}]


def test_dora_sees_every_township_with_the_same_threshold(world: World) -> None:
    rows = _answer(world, "http", PER_VILLAGE, who="dora")["rows"]
    assert [r["village_code"] for r in rows] == sorted(VILLAGES)
    withheld = {r["village_code"] for r in rows if r["recipients"] is None}
    assert withheld == {v for v, n in VILLAGES.items() if n < THRESHOLD}


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"group_by": ["village_code"]}, "group_by needs aggregates"),
        ({"fields": ["status"], "aggregates": [{"fn": "count", "as": "n"}]}, "leave fields empty"),
        ({"aggregates": [{"fn": "count", "as": "n"}, {"fn": "count", "as": "n"}]}, "twice"),
        ({"group_by": ["status"], "aggregates": [{"fn": "count", "as": "status"}]}, "alias"),
        ({"aggregates": [{"fn": "sum", "field": "status", "as": "s"}]}, "does not apply"),
        (
            {"aggregates": [{"fn": "count", "as": "n"}], "order_by": ["monthly_amount"]},
            "sorts on its group fields or aliases only",
        ),
        (
            {
                "group_by": ["status", "village_code", "household_size", "person_id", "name"],
                "aggregates": [{"fn": "count", "as": "n"}],
            },
            "at most 4",
        ),
    ],
)
def test_malformed_aggregate_queries_are_400(
    world: World, body: dict[str, Any], message: str
) -> None:
    resp = world.gw.query("tina", world.datasets["sqlite"], {**body, **CASE})
    assert resp.status_code == 400, resp.text
    assert message in resp.json()["message"]


def test_schema_refuses_bad_aliases_and_functions(world: World) -> None:
    for aggregate in (
        {"fn": "median", "as": "m"},
        {"fn": "count", "as": "1n"},
        {"fn": "count", "as": "a b"},
        {"fn": "count"},
        {"fn": "count", "as": "n", "x": 1},
    ):
        resp = world.gw.query("tina", world.datasets["sqlite"], {"aggregates": [aggregate], **CASE})
        assert resp.status_code in (400, 422), resp.text


def test_sorting_on_an_alias_and_the_limit_cut_groups(world: World) -> None:
    body = {**PER_VILLAGE, "order_by": ["-recipients"], "limit": 3}
    answer = _answer(world, "sqlite", body)
    # withheld cells sort last whatever their true count: the order reveals nothing
    assert [r["village_code"] for r in answer["rows"]] == [
        "430121101001",
        "430121101002",
        "430121101003",
    ]
    assert answer["truncated"] is True and answer["aggregate"]["groups"] == 3


# ---------------------------------------------------------------- on record


def _events(world: World, dataset_id: str) -> list[dict[str, Any]]:
    page = list_events(
        store=world.gw.services.audit.store,
        filters=EventFilter(dataset=dataset_id),
        limit=200,
        order="desc",
    )
    items: list[dict[str, Any]] = page["items"]
    return items


def test_aggregate_queries_are_on_record_with_groups_and_suppressed(world: World) -> None:
    dataset = world.datasets["postgresql"]
    resp = world.gw.query("tina", dataset, PER_VILLAGE, format="csv")
    assert resp.status_code == 200
    events = {e["type"]: e for e in world.gw.request_events(resp.headers["X-Request-Id"], 2)}
    started, completed = events["query.started"], events["query.completed"]
    functions = ["count(*)", "sum(monthly_amount)", "avg(household_size)", "count(benefit_total)"]
    assert completed["details"]["aggregate"] == {
        "group_by": ["village_code"],
        "functions": functions,
        "min_group_size": THRESHOLD,
        "groups": 4,
        "suppressed": 4,  # groups with a withheld cell: sum(monthly_amount) is in all
        "groups_read": 4,
    }
    assert completed["rows"] == 4
    assert started["details"]["aggregate"] == {
        "group_by": ["village_code"],
        "functions": functions,
        "min_group_size": THRESHOLD,
    }
    assert completed["details"]["masks"] == {}
    assert completed["details"]["columns_requested"] == [
        "village_code",
        "monthly_amount",
        "household_size",
        "benefit_total",
    ]
    # a refused one names what it asked for
    world.gw.query("tina", dataset, {**PER_VILLAGE, "group_by": ["id_number"]})
    denied = next(e for e in _events(world, dataset) if e["type"] == "query.denied")
    assert denied["details"]["aggregate"]["group_by"] == ["id_number"]


@pytest.mark.parametrize("kind", ["sqlite", "http"])
def test_grouping_on_a_unique_key_is_refused(world: World, kind: str) -> None:
    """One group per person, every one withheld: the number of groups would equal their
    total, telling each one's size (one). Refused, and the query ends on record."""
    body = {**PER_VILLAGE, "group_by": ["person_id"]}
    resp = world.gw.query("tina", world.datasets[kind], body)
    assert resp.status_code == 403, resp.text
    assert resp.json()["details"]["problem"] == "withheld_groups_pinned"
    # a filter does not change it: the refusal is decided over the whole grouping
    where = [{"field": "person_id", "op": "<", "value": 3}]
    assert world.gw.query("tina", world.datasets[kind], {**body, "where": where}).status_code == 403
