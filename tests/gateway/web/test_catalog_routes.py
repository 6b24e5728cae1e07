"""Catalog routes on a real app: search (中文 and English), one entry, 404s, DCAT JSON-LD."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi import FastAPI

from catalog import service
from catalog.demo.install import install_demo_catalog
from gateway.core.settings import load_settings
from gateway.web.app import create_app
from tests.gateway.asgi_client import get
from tests.migrated import with_migrated_catalog


@pytest.fixture
def app(sluice_home: Path) -> FastAPI:
    app = create_app(
        with_migrated_catalog(
            load_settings(home=sluice_home, database_url=None, public_url="http://sluice.test")
        )
    )
    with app.state.services.sessions() as session:
        install_demo_catalog(session=session, data_dir=sluice_home / "demo")
        session.commit()
    return app


def test_search_in_chinese_and_english(app: FastAPI) -> None:
    response = get(app, "/api/v1/catalog?q=低保")
    assert response.status_code == 200
    body = response.json()
    assert body[0]["id"] == "civil.dibao_recipients"
    fields = {f["name"]: f for f in body[0]["fields"]}
    assert fields["id_number"] == {
        "name": "id_number",
        "type": "string",
        "level": "L3",
        "pi_category": "id_number",
        "description": "居民身份证号 / resident ID number",
        "mask_override": None,
    }
    english = get(app, "/api/v1/catalog?q=SUBSISTENCE").json()
    assert [d["id"] for d in english] == ["civil.dibao_recipients"]
    assert len(get(app, "/api/v1/catalog").json()) == 5


def test_filters(app: FastAPI) -> None:
    civil = get(app, "/api/v1/catalog?department=civil&level=L3&tag=dibao").json()
    assert [d["id"] for d in civil] == ["civil.dibao_recipients"]
    assert get(app, "/api/v1/catalog?level=L9").status_code == 400
    assert get(app, "/api/v1/catalog?department=tax").json() == []


def test_one_entry_and_not_found(app: FastAPI) -> None:
    entry = get(app, "/api/v1/catalog/finance.payroll")
    assert entry.status_code == 200
    body = entry.json()
    assert body["title_en"] == "Public payroll" and body["region_field"] == "region_code"
    assert "settings" not in body and "source_id" not in body
    missing = get(app, "/api/v1/catalog/finance.nothing")
    assert missing.status_code == 404 and missing.json()["code"] == "not_found"


def test_drafts_are_invisible(app: FastAPI) -> None:
    with app.state.services.sessions() as session:
        service.unpublish_dataset(session=session, dataset_id="audit.audit_findings")
        session.commit()
    assert get(app, "/api/v1/catalog/audit.audit_findings").status_code == 404
    assert "audit.audit_findings" not in [d["id"] for d in get(app, "/api/v1/catalog").json()]
    ids = [d["dct:identifier"] for d in get(app, "/api/v1/catalog.jsonld").json()["dcat:dataset"]]
    assert "audit.audit_findings" not in ids and len(ids) == 4


def test_dcat_jsonld(app: FastAPI) -> None:
    response = get(app, "/api/v1/catalog.jsonld")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/ld+json")
    doc = response.json()
    assert doc["@type"] == "dcat:Catalog"
    assert doc["@context"]["dcat"] == "http://www.w3.org/ns/dcat#"
    by_id = {d["dct:identifier"]: d for d in doc["dcat:dataset"]}
    assert set(by_id) == {
        "finance.payroll",
        "finance.fund_disbursements",
        "civil.dibao_recipients",
        "civil.death_registrations",
        "audit.audit_findings",
    }
    dibao = by_id["civil.dibao_recipients"]
    assert dibao["@type"] == "dcat:Dataset"
    assert {"@value": "城乡低保对象名册", "@language": "zh"} in dibao["dct:title"]
    assert "低保" in dibao["dcat:keyword"]
    assert dibao["dct:publisher"]["foaf:name"][0] == {"@value": "民政局", "@language": "zh"}
    assert dibao["dct:accrualPeriodicity"]["@id"].endswith("/frequency/MONTHLY")
    assert dibao["sluice:level"] == "L3"
    assert dibao["@id"] == "http://sluice.test/api/v1/catalog/civil.dibao_recipients"
    phone = next(f for f in dibao["sluice:field"] if f["sluice:name"] == "phone")
    assert phone["sluice:piCategory"] == "phone"
