"""Spark reading CSV and Parquet sources itself (issue 15): a CSV source and a Parquet
source registered in the catalog through the API, a model over both run on Spark gives
exactly the embedded engine's hit list — the same tokens, the same masks — with the
texts that trip a CSV reader: empty fields, ``NA``/``NULL``/``nan`` (null for the
gateway's CSV reader, text for Spark's until ``CsvTyped``), a doubled quote inside a
quoted field, Chinese text, 18-digit ID numbers ending in ``X`` (and ``x``), dates.
Tens of rows: the point is the readers, not the size."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import orjson
import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.parquet as pq
import pytest

from gateway.enforcement.comparison.spark.engine import SparkEngine
from gateway.enforcement.comparison.spark.govern import load_source
from gateway.enforcement.comparison.spark.session import spark_session
from gateway.enforcement.comparison.spark.sources import SourceRead
from tests.gateway.comparison_env import ALICE_COUNTY, hits, runner, start, wait
from tests.gateway.demo_app import DemoGateway, demo_gateway
from tests.spark_jvm import shared_spark

pytestmark = pytest.mark.xdist_group("spark")  # the Spark module's worker and session
MASTER = "local[2]"
OTHER_COUNTY = "430102"
CSV_TEXTS = ["", "NA", "NULL", "nan", "N/A", '"he said ""hi"""', "张三，备注", "plain"]
NAMES = ["张三", "李四", "王五", "赵六", "", "NA", "欧阳·娜娜", '"王,五"']


def _id(i: int) -> str:
    tail = "X" if i % 3 == 0 else ("x" if i % 7 == 0 else str(i % 10))
    return f"{ALICE_COUNTY if i % 2 else OTHER_COUNTY}19800101{i:03d}{tail}"[:17] + tail


def _write_files(root: Path) -> None:
    """deaths.csv (civil) and payments.parquet (civil): ids 0…29 die, 10…39 are paid; a
    payment after the death is a hit. CSV rows written by hand, as a department's
    export would be; some fields empty, some the texts a reader takes as null."""
    lines = ["id_number,name,died_on,region_code,note"]
    for i in range(30):
        died = "" if i % 11 == 5 else (date(2024, 1, 1) + timedelta(days=i)).isoformat()
        name = NAMES[i % len(NAMES)]
        lines.append(f"{_id(i)},{name},{died},{_id(i)[:6]},{CSV_TEXTS[i % len(CSV_TEXTS)]}")
    (root / "deaths.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    ids = list(range(10, 40))
    pq.write_table(pa.table({
        "id_number": [_id(i) for i in ids],
        "payee": [None if i % 5 == 0 else f"收款人{i}" for i in ids],
        "paid_on": [date(2024, 1, 1) + timedelta(days=i % 25) for i in ids],
        "amount": [None if i % 6 == 0 else 100.0 + i for i in ids],
        "region_code": [_id(i)[:6] for i in ids],
        "memo": ["" if i % 4 == 0 else ("NA" if i % 4 == 1 else f"备注{i}") for i in ids],
    }), root / "payments.parquet")  # fmt: skip


def _ok(resp: Any, status: int = 200) -> Any:
    assert resp.status_code == status, resp.text
    return resp.json()


def _register(gw: DemoGateway, kind: str, root: Path, obj: str, dataset_id: str,
              fields: dict[str, dict[str, str]]) -> None:  # fmt: skip
    """Register, introspect, draft, classify, publish, as the civil steward does."""
    settings: dict[str, Any] = {"root": str(root / kind)}
    if kind == "csv":  # CSV has no types: codes are text, the date is a date
        settings["column_types"] = {
            "id_number": "string",
            "region_code": "string",
            "died_on": "date",
            "name": "string",
            "note": "string",
        }
    (root / kind).mkdir()
    (root / kind / obj).write_bytes((root / obj).read_bytes())
    h = gw.headers("carl")
    source = f"civil-spark-{kind}"
    body = {"id": source, "department": "civil", "kind": kind,
            "display_name": f"{kind} side", "settings": settings}  # fmt: skip
    _ok(gw.client.post("/api/v1/sources", json=body, headers=h), 201)
    _ok(gw.client.post(f"/api/v1/sources/{source}/introspect", headers=h))
    _ok(gw.client.post("/api/v1/datasets", json={"source_id": source, "object_name": obj,
        "dataset_id": dataset_id, "title_zh": "比对", "title_en": "Compare",
        "allowed_purposes": ["supervision"]}, headers=h), 201)  # fmt: skip
    _ok(gw.client.patch(f"/api/v1/datasets/{dataset_id}", json={
        "region_field": "region_code", "fields": fields}, headers=h))  # fmt: skip
    _ok(gw.client.post(f"/api/v1/datasets/{dataset_id}/publish", headers=h))


def _field(level: str, pi: str = "none") -> dict[str, str]:
    return {"level": level, "pi_category": pi}


MODEL: dict[str, Any] = {
    "id": "test.spark_files",
    "name": {"zh": "死亡后支付", "en": "Paid after death (files)"},
    "shared_with": {"levels": ["province", "city", "county"]},
    "sides": [{"alias": "d", "dataset": "civil.spark_deaths"},
              {"alias": "p", "dataset": "civil.spark_payments"}],
    "joins": [{"left": "d", "left_key": "id_number", "right": "p", "right_key": "id_number"}],
    "conditions": [{"op": ">=", "args": [{"field": "p.paid_on"}, {"field": "d.died_on"}]}],
    "output": ["d.name", "d.died_on", "d.note", "d.region_code", "p.payee", "p.paid_on",
               "p.amount", "p.memo"],
}  # fmt: skip
ANTI: dict[str, Any] = {
    **MODEL, "id": "test.spark_files_anti",
    "name": {"zh": "未支付", "en": "Dead, never paid (files)"},
    "joins": [{**MODEL["joins"][0], "kind": "anti"}], "conditions": [],
    "output": ["d.name", "d.died_on", "d.note", "d.region_code"],
}  # fmt: skip


@pytest.fixture(scope="module")
def files_gw(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DemoGateway]:
    shared_spark(MASTER)
    data = tmp_path_factory.mktemp("spark-files-data")
    _write_files(data)
    with demo_gateway(tmp_path_factory.mktemp("spark-files"), file_roots=[data],
                      spark_master=MASTER) as g:  # fmt: skip
        _register(g, "csv", data, "deaths.csv", "civil.spark_deaths", {
            "id_number": _field("L3", "id_number"), "name": _field("L2"),
            "died_on": _field("L2"), "region_code": _field("L2"),
            "note": _field("L2")})  # fmt: skip
        _register(g, "parquet", data, "payments.parquet", "civil.spark_payments", {
            "id_number": _field("L3", "id_number"), "payee": _field("L2"),
            "paid_on": _field("L2"), "amount": _field("L2"), "region_code": _field("L2"),
            "memo": _field("L2")})  # fmt: skip
        for model in (MODEL, ANTI):
            _ok(g.client.post("/api/v1/comparison-models", json=model,
                              headers=g.headers("dora")), 201)  # fmt: skip
        yield g


def _run(gw: DemoGateway, subject: str, model: str, engine: str) -> dict[str, Any]:
    resp = start(gw, subject, model, engine=engine)
    assert resp.status_code == 202, resp.text
    view = wait(gw, subject, resp.json()["id"], timeout_s=300)
    assert view["status"] == "done", view
    return view


def _rows(resp: Any) -> list[dict[str, Any]]:
    assert resp.status_code == 200, resp.text
    return list(orjson.loads(resp.content)["rows"])


# three runs, not four: alice's anti join adds nothing the others do not read (the
# suite's Spark worker is its longest)
@pytest.mark.parametrize(
    ("subject", "model"), [("dora", MODEL["id"]), ("alice", MODEL["id"]), ("dora", ANTI["id"])]
)
def test_csv_and_parquet_read_by_spark_give_the_embedded_hits(
    files_gw: DemoGateway, monkeypatch: pytest.MonkeyPatch, subject: str, model: str
) -> None:
    engine = runner(files_gw).engines["spark"]
    assert isinstance(engine, SparkEngine) and engine.sources is not None
    described: list[str] = []
    describe = engine.sources.describe
    monkeypatch.setattr(engine.sources, "describe",
                        lambda entry: described.append(entry.id) or describe(entry))  # fmt: skip
    embedded = _run(files_gw, subject, model, "embedded")
    spark = _run(files_gw, subject, model, "spark")
    assert sorted(described) == ["civil.spark_deaths", "civil.spark_payments"]  # Spark read both
    assert spark["hits"] == embedded["hits"] > 0
    rows = _rows(hits(files_gw, subject, spark["id"]))
    assert rows == _rows(hits(files_gw, subject, embedded["id"]))
    for fmt in ("csv", "parquet"):  # the stored tables are byte for byte the same
        assert hits(files_gw, subject, spark["id"], fmt).content == hits(
            files_gw, subject, embedded["id"], fmt).content  # fmt: skip
    tokens = [r["key_token"] for r in rows]
    assert all(t and not t.startswith(("430", "X")) for t in tokens)  # keys are tokens
    notes = {r["d.note"] for r in rows}
    if subject == "alice":
        assert {r["d.region_code"] for r in rows} == {ALICE_COUNTY}
    if subject == "dora":  # the texts that differ between the readers are among the hits
        assert None in notes and '"he said ""hi"""' not in notes
        assert 'he said "hi"' in notes or model == ANTI["id"]
        assert any("张三" in (r["d.name"] or "") or r["d.name"] is None for r in rows)


def test_a_malformed_csv_fails_on_spark_as_on_the_gateway(tmp_path: Path) -> None:
    """A record short of a field and a line break inside quotes: the gateway's CSV
    reader refuses the file; Spark's default read it, nulls in the missing fields and
    the broken record's tail as a row of its own (a value in another column). Spark's
    read fails too."""
    bad = tmp_path / "bad.csv"
    bad.write_text('id_number,region_code,note\n1,430121,a\n2,430121\n3,"x\ny",430102\n')
    with pytest.raises(pa.ArrowInvalid):
        ds.dataset(str(bad), format="csv").to_table()
    with pytest.raises(Exception, match=r"(?i)malformed|FAILED_READ_FILE"):
        load_source(spark_session(MASTER), SourceRead("csv", str(bad))).collect()
