"""Red team 34, as an analyst (alice), against the masks: a partner's file with one row
that does not parse.

Rule: an analyst receives a field only as policy releases it — alice sees ID numbers
as ``430121********1234``, names surname-only, phones ``139****1111`` — and the trail
and the logs never hold a raw ID number.

Attack: civil publishes a CSV export (ID number, name, phone, address at L3, masked
for alice; county and household size in clear). Its next export has one row with an
unquoted comma in the address — the commonest flaw of a spreadsheet export. alice asks
only for the county and the household size, here as a count of rows per county (which
reads the whole file). The file adapter's error carried Arrow's own message, row text
and all: ``CSV parse error: Row #N: Expected 6 columns, got 7: 430121199202022345,李四,
13900001111,…`` — in the 502's body sent to alice and in ``query.failed`` on the trail.

The same through a database: a partner's PostgreSQL view casts a text column that one
row holds dirty (``CAST(household AS integer)``); the driver's message names the value
(``invalid input syntax for type integer: "430121199202022345 李四"``) and the SQL
adapter passed it on as ``the source failed the query: …``.

Expected: the answer and the trail say which row failed and why, never its values. On
the embedded default and on PostgreSQL.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest

from audit.search import EventFilter, list_events
from tests.attacks.deployments import KINDS, open_deployment
from tests.conftest import create_pg_database, drop_pg_database
from tests.gateway.demo_app import DemoGateway

CASE = {"purpose": "supervision", "case_ref": "JW-2026-034"}
GOOD_ROWS = 40_000  # more than Arrow's first block: the bad row is met while scanning
SECRET_ID = "430121199202022345"
SECRET_PHONE = "13900001111"
BAD_ROW = f"{SECRET_ID},李四,{SECRET_PHONE},湖南省长沙市长沙县星沙街道,幸福小区8栋,430121,3\n"


@pytest.fixture(scope="module", params=KINDS)
def world(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
          ) -> Iterator[tuple[DemoGateway, Path]]:  # fmt: skip
    data = tmp_path_factory.mktemp(f"red34-files-{request.param}")
    home = tmp_path_factory.mktemp(f"red34-files-gw-{request.param}")
    with open_deployment(request.param, home, db_prefix="sluice_red34_files",
                         file_roots=[data], source_allow_hosts=["127.0.0.1"]) as gw:  # fmt: skip
        yield gw, data


def _call(gw: DemoGateway, who: str, method: str, path: str, body: Any = None) -> Any:
    resp = gw.client.request(method, path, json=body, headers=gw.headers(who))
    assert resp.status_code in (200, 201), (path, resp.status_code, resp.text)
    return resp.json()


def _entry(gw: DemoGateway, source: dict[str, Any], object_name: str, dataset: str,
           levels: dict[str, tuple[str, str]]) -> None:  # fmt: skip
    """carl registers ``source``, drafts ``dataset`` over ``object_name``, classifies
    each field as ``levels`` says (level, PI category) and publishes it."""
    _call(gw, "carl", "POST", "/api/v1/sources",
          {"department": "civil", "display_name": source["id"], **source})  # fmt: skip
    _call(gw, "carl", "POST", "/api/v1/datasets", {
        "source_id": source["id"], "object_name": object_name, "dataset_id": dataset,
        "title_zh": "名册", "title_en": "Roll", "allowed_purposes": ["supervision"],
    })  # fmt: skip
    fields = {n: {"level": lv, "pi_category": pi} for n, (lv, pi) in levels.items()}
    _call(gw, "carl", "PATCH", f"/api/v1/datasets/{dataset}",
          {"region_field": "region_code", "fields": fields})  # fmt: skip
    _call(gw, "carl", "POST", f"/api/v1/datasets/{dataset}/publish")


def _publish(gw: DemoGateway, data: Path) -> tuple[str, Path]:
    csv = data / "people.csv"
    with csv.open("w", encoding="utf-8") as out:
        out.write("id_number,name,phone,address,region_code,household_size\n")
        for i in range(GOOD_ROWS):
            out.write(f"43012119900101{i % 10000:04d},张三,1381234{i % 10000:04d},"
                      f"湖南省长沙市长沙县星沙街道{i}号,430121,2\n")  # fmt: skip
    types = {"id_number": "string", "phone": "string", "region_code": "string",
             "household_size": "int64"}  # fmt: skip
    _entry(gw, {"id": "civil-export", "kind": "csv",
                "settings": {"path": str(csv), "column_types": types}},
           "people.csv", "civil.export_people",
           {"id_number": ("L3", "id_number"), "name": ("L3", "name"), "phone": ("L3", "phone"),
            "address": ("L3", "address"), "region_code": ("L1", "none"),
            "household_size": ("L2", "none")})  # fmt: skip
    return "civil.export_people", csv


def test_a_row_that_does_not_parse_is_not_sent_in_clear(
    world: tuple[DemoGateway, Path],
) -> None:
    gw, data = world
    dataset, csv = _publish(gw, data)
    with csv.open("a", encoding="utf-8") as out:  # the department's next export
        out.write(BAD_ROW)
    body = {**CASE, "group_by": ["region_code"], "aggregates": [{"fn": "count", "as": "n"}]}
    resp = gw.query("alice", dataset, body)
    assert resp.status_code == 502, resp.text
    assert SECRET_ID not in resp.text and SECRET_PHONE not in resp.text, resp.text
    assert "李四" not in resp.text, resp.text
    page = list_events(store=gw.services.audit.store,
                       filters=EventFilter(type="query.failed", actor="alice"),
                       limit=50, order="desc")  # fmt: skip
    recorded = json.dumps(page["items"], ensure_ascii=False)
    assert page["items"], "the failure is on record"
    assert SECRET_ID not in recorded and SECRET_PHONE not in recorded, recorded[:500]


def _leaks(gw: DemoGateway, dataset: str) -> None:
    """alice's household sizes per county, and the trail of them, hold no value in clear."""
    resp = gw.query("alice", dataset, {**CASE, "fields": ["region_code", "household_size"]})
    assert resp.status_code == 502, resp.text
    assert SECRET_ID not in resp.text and "李四" not in resp.text, resp.text
    page = list_events(store=gw.services.audit.store,
                       filters=EventFilter(type="query.failed", actor="alice"),
                       limit=50, order="desc")  # fmt: skip
    assert SECRET_ID not in json.dumps(page["items"], ensure_ascii=False)


def test_a_database_error_naming_a_value_is_not_sent_in_clear(
    world: tuple[DemoGateway, Path],
) -> None:
    gw, _data = world
    name, url = create_pg_database("sluice_red34_view")
    try:
        with psycopg.connect(url.replace("postgresql+psycopg", "postgresql")) as conn:
            conn.execute("CREATE TABLE people (id_number text, region_code text, household text)")
            conn.execute("INSERT INTO people VALUES ('430121199001010011', '430121', '2')")
            conn.execute("CREATE VIEW people_v AS SELECT id_number, region_code, "
                         "CAST(household AS integer) AS household_size FROM people")  # fmt: skip
        _entry(gw, {"id": "civil-pg-view", "kind": "postgresql", "settings": {"url": url}},
               "people_v", "civil.pg_view_people",
               {"id_number": ("L3", "id_number"), "region_code": ("L1", "none"),
                "household_size": ("L2", "none")})  # fmt: skip
        with psycopg.connect(url.replace("postgresql+psycopg", "postgresql")) as conn:
            conn.execute(f"INSERT INTO people VALUES ('{SECRET_ID}', '430121', "
                         f"'{SECRET_ID} 李四')")  # the next day's dirty row  # fmt: skip
        _leaks(gw, "civil.pg_view_people")
    finally:
        drop_pg_database(name)
