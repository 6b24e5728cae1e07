"""Red team 27, as a steward: an entry id in another department's prefix.

An entry's id is ``<department>.<object>`` (``catalog.schemas.DatasetIn``: "the dataset
id must start with its department code"; every demo entry, ``civil.dibao_recipients``
over ``civil-db``; the console's draft form suggests ``civil.…``). A draft's id was
held to the characters an id may have only (``ID_PATTERN``): carl drafted and published
``finance.payroll_2027`` over civil's own table. It governed as civil's everywhere
(casbin domain, civil's approvals, the DCAT publisher), but an id in finance's prefix
misleads whoever reads the trail or the catalog, and finance could no longer take it
(409).

Rule: an entry id's department prefix — the part before its first ``.`` — is its
source's department, at every door an id is set (the API's ``POST /api/v1/datasets``,
the console's draft form, ``sluice datasets create``): a 400 naming the expected
prefix, nothing made, and a draft with no id given is named ``<department>.<object>``.
Fixed in the catalog (``catalog.service.require_department_prefix``, called by
``create_draft``, and by the registration before it introspects).

On the embedded SQLite default and on PostgreSQL (``deployment``).
"""

from __future__ import annotations

import pytest

from catalog.models import Dataset
from tests.attacks.console_sign_in import console_sign_in
from tests.attacks.redteam27 import run_cli
from tests.gateway.demo_app import DemoGateway

DRAFTS = "/api/v1/datasets"
FOREIGN = ["finance.payroll_2027", "payroll_2027", "civil-db.payroll_2027", "civilian.payroll"]


def _absent(gw: DemoGateway, entry_id: str) -> None:
    with gw.services.sessions() as session:
        assert session.get(Dataset, entry_id) is None, f"{entry_id!r} was made"


def test_the_api_refuses_an_id_outside_the_sources_department(deployment: DemoGateway) -> None:
    gw = deployment
    for entry_id in FOREIGN:
        draft = {"source_id": "civil-db", "object_name": "dibao_recipients",
                 "dataset_id": entry_id}  # fmt: skip
        resp = gw.client.post(DRAFTS, headers=gw.headers("carl"), json=draft)
        assert resp.status_code == 400, (entry_id, resp.text[:300])
        assert "'civil.'" in resp.json()["message"], resp.text
        _absent(gw, entry_id)


def test_the_console_refuses_an_id_outside_the_sources_department(
    deployment: DemoGateway,
) -> None:
    gw = deployment
    client, csrf = console_sign_in(gw, "carl")
    made = client.post("/console/sources/civil-db/draft", data={
        "csrf_token": csrf, "object_name": "dibao_recipients",
        "dataset_id": "finance.payroll_2027", "title_zh": "工资"})  # fmt: skip
    assert made.status_code == 400, made.text[:300]
    assert "civil." in made.text
    _absent(gw, "finance.payroll_2027")


def test_the_cli_refuses_an_id_outside_the_sources_department(
    deployment: DemoGateway, monkeypatch: pytest.MonkeyPatch
) -> None:
    gw = deployment
    drafted = run_cli(gw, monkeypatch, "datasets", "create", "--as", "carl", "civil-db",
                      "dibao_recipients", "--id", "finance.payroll_2027")  # fmt: skip
    assert drafted.exit_code != 0, drafted.output
    _absent(gw, "finance.payroll_2027")


def test_an_id_in_the_own_prefix_is_drafted_and_published(deployment: DemoGateway) -> None:
    gw = deployment
    draft = {"source_id": "civil-db", "object_name": "dibao_recipients",
             "dataset_id": "civil.payroll_2027", "title_en": "Payroll 2027"}  # fmt: skip
    made = gw.client.post(DRAFTS, headers=gw.headers("carl"), json=draft)
    assert made.status_code == 201, made.text[:300]
    assert made.json()["department"] == "civil"
    published = gw.client.post(f"{DRAFTS}/civil.payroll_2027/publish", headers=gw.headers("carl"))
    assert published.status_code == 200, published.text[:300]


def test_a_draft_without_an_id_is_named_in_its_department(deployment: DemoGateway) -> None:
    """The default id is ``<department>.<object>`` (it was ``<source>.<object>``,
    ``civil-db.…``, outside the convention): here civil's entry of that object exists,
    so the default is taken (409 naming it) and the steward names another."""
    gw = deployment
    draft = {"source_id": "civil-db", "object_name": "dibao_recipients"}
    resp = gw.client.post(DRAFTS, headers=gw.headers("carl"), json=draft)
    assert resp.status_code == 409, resp.text[:300]
    assert "civil.dibao_recipients" in resp.json()["message"], resp.text
    _absent(gw, "civil-db.dibao_recipients")
