"""A steward (carl, civil) against the columns the gateway adds to a read of its own.

A comparison side carries the subject tokens of its rows in a column of the gateway's
own, ``__subject_token`` (``gateway.enforcement.query.subjects.SUBJECT_COLUMN``), until
the matches are known; the tokens of the hits name on the trail the people a
comparison found. A source's columns become an entry's fields as they are named, so a
partner's export (or a view) with a ``__subject_token`` column put a field of that name
in the catalog, beside the gateway's: the side's batch held two columns of one name, and
the name the trail reads was the steward's to fill (red team 36's left row). The
catalog now takes no field name starting with ``__``: a draft over such a column, a
refresh that would add one are refused (400), naming the column. Both deployments.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.attacks.test_redteam34_analyst_source_error_row import (  # noqa: F401 (fixture)
    _call,
    world,
)
from tests.gateway.demo_app import DemoGateway


def _export(data: Path, header: str) -> Path:
    csv = data / f"{header.split(',')[-1]}.csv"
    with csv.open("w", encoding="utf-8") as out:
        out.write(header + "\n")
        for i in range(20):
            out.write(f"43012119900101{i:04d},张三,430121,tok{i}\n")
    return csv


def _draft(gw: DemoGateway, source: str, csv: Path, dataset: str) -> Any:
    _call(gw, "carl", "POST", "/api/v1/sources",
          {"id": source, "department": "civil", "display_name": source, "kind": "csv",
           "settings": {"path": str(csv)}})  # fmt: skip
    return gw.client.post("/api/v1/datasets", headers=gw.headers("carl"), json={
        "source_id": source, "object_name": csv.name, "dataset_id": dataset,
        "title_en": "Roll", "allowed_purposes": ["supervision"]})  # fmt: skip


def _refused(answer: Any) -> None:
    assert answer.status_code == 400, answer.text
    assert "__subject_token" in answer.json()["message"]


def test_a_draft_over_a_column_named_as_the_gateways_own_is_refused(
    world: tuple[DemoGateway, Path],  # noqa: F811 (the imported fixture)
) -> None:
    gw, data = world
    csv = _export(data, "id_number,name,region_code,__subject_token")
    _refused(_draft(gw, "civil-reserved", csv, "civil.reserved_draft"))
    drafted = gw.client.patch("/api/v1/datasets/civil.reserved_draft", json={"title_en": "R"},
                              headers=gw.headers("carl"))  # fmt: skip
    assert drafted.status_code == 404, drafted.text  # no draft was left


def test_a_refresh_that_would_add_such_a_column_is_refused(
    world: tuple[DemoGateway, Path],  # noqa: F811 (the imported fixture)
) -> None:
    gw, data = world
    csv = _export(data, "id_number,name,region_code,household")
    answer = _draft(gw, "civil-reserved-later", csv, "civil.reserved_later")
    assert answer.status_code == 201, answer.text
    # the next export renames a column to the gateway's own
    csv.write_text(csv.read_text(encoding="utf-8").replace("household", "__subject_token", 1),
                   encoding="utf-8")  # fmt: skip
    _refused(gw.client.post("/api/v1/datasets/civil.reserved_later/refresh",
                            headers=gw.headers("carl")))  # fmt: skip
    entry = _call(gw, "carl", "PATCH", "/api/v1/datasets/civil.reserved_later",
                  {"title_en": "Roll"})  # fmt: skip
    assert "__subject_token" not in [f["name"] for f in entry["fields"]]
