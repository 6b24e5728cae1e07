"""The console's pages of an entry, a source, a comparison model or a schedule that a
database insider changed behind the gateway.

The API says so (``sealed: false``) and refuses them (423 ``entry_unsealed``,
``source_unsealed``, ``model_unsealed``); the console's catalog, query, sources and
comparisons pages showed the insider's row as a normal one — the dibao roll's
``id_number`` declassified to L1 looked queryable, with an "allow" in the analyst's
access column — and a console query of it answered a bare "something went wrong". The
pages now mark such a row as the admin pages mark a tampered account (changed outside
the gateway: serves nothing until restored), read from the same ``sealed`` the API
serves, and the console's refusal names the reason.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Table, select, update

from catalog.comparison_models import ComparisonModel
from catalog.comparison_schedules import ComparisonSchedule
from catalog.models import Field, Source
from tests.attacks.console_sign_in import console_sign_in
from tests.gateway.comparison_env import ALICE_COUNTY
from tests.gateway.demo_app import DemoGateway

DIBAO = "civil.dibao_recipients"
PAYROLL = "finance.payroll"
MODEL = "demo.payroll_on_dibao"
CASE = {"purpose": "supervision", "case_ref": "JW-CONSOLE-SEALS"}
BADGE = 'class="unsealed"'
_F: Table = Field.__table__  # type: ignore[assignment]
_SRC: Table = Source.__table__  # type: ignore[assignment]
_M: Table = ComparisonModel.__table__  # type: ignore[assignment]
_S: Table = ComparisonSchedule.__table__  # type: ignore[assignment]


@contextmanager
def _changed(gw: DemoGateway, table: Table, where: Any, **values: Any) -> Iterator[None]:
    """``values`` written into a row behind the gateway (a Core write: no hook sees it),
    then its own written back (its seal verifies again)."""
    with gw.services.engine.begin() as conn:
        before = conn.execute(select(*(table.c[n] for n in values)).where(where)).one()
        conn.execute(update(table).where(where).values(**values))
    try:
        yield
    finally:
        with gw.services.engine.begin() as conn:
            conn.execute(update(table).where(where).values(dict(zip(values, before, strict=True))))


def _declassified(gw: DemoGateway) -> Any:
    """The dibao roll's ``id_number`` field lowered to L1, not personal."""
    where = (_F.c.dataset_id == DIBAO) & (_F.c.name == "id_number")
    return _changed(gw, _F, where, level="L1", pi_category="none")


def _piece(page: str, marker: str, end: str) -> str:
    """The part of ``page`` from ``marker`` to the next ``end``."""
    assert marker in page, marker
    return page.split(marker, 1)[1].split(end, 1)[0]


def _get(client: TestClient, path: str) -> str:
    resp = client.get(path)
    assert resp.status_code == 200, (path, resp.status_code, resp.text[:300])
    return resp.text


def test_the_catalog_and_query_pages_show_a_tampered_entry(deployment: DemoGateway) -> None:
    gw = deployment
    alice, csrf = console_sign_in(gw, "alice")
    entry = f'href="/console/catalog/{DIBAO}"'
    assert BADGE not in _piece(_get(alice, "/console/catalog"), entry, "</article>")
    assert 'id="entry-unsealed"' not in _get(alice, f"/console/catalog/{DIBAO}")
    with _declassified(gw):
        listing = _get(alice, "/console/catalog")
        assert BADGE in _piece(listing, entry, "</article>")
        other = _piece(listing, f'href="/console/catalog/{PAYROLL}"', "</article>")
        assert BADGE not in other  # an entry that verifies is shown as it is
        page = _get(alice, f"/console/catalog/{DIBAO}")
        assert 'id="entry-unsealed"' in page
        assert f'href="/console/query/{DIBAO}"' not in page
        english = _get(alice, f"/console/catalog/{DIBAO}?lang=en")
        assert "changed outside the gateway: serves nothing until restored" in english
        assert BADGE in _piece(_get(alice, "/console/query"), f'"/console/query/{DIBAO}"', "</li>")
        assert 'id="entry-unsealed"' in _get(alice, f"/console/query/{DIBAO}")
        refused = alice.post(f"/console/query/{DIBAO}/preview", data={
            "csrf_token": csrf, "fields": "region_code", **CASE})  # fmt: skip
        assert refused.status_code == 423, refused.text[:300]
        assert "This entry was changed outside the gateway" in refused.text
        assert "it serves nothing until its sealed values are restored" in refused.text
        steward = console_sign_in(gw, "carl")[0]
        row = _piece(_get(steward, "/console/sources"), f'"/console/sources/entries/{DIBAO}"',
                     "</tr>")  # fmt: skip
        assert BADGE in row
        assert 'id="entry-unsealed"' in _get(steward, f"/console/sources/entries/{DIBAO}")
    assert 'id="entry-unsealed"' not in _get(alice, f"/console/catalog/{DIBAO}")
    assert f'href="/console/query/{DIBAO}"' in _get(alice, f"/console/catalog/{DIBAO}")


def _settings(gw: DemoGateway, source_id: str) -> dict[str, Any]:
    with gw.services.engine.connect() as conn:
        found: dict[str, Any] = conn.execute(
            select(_SRC.c.settings).where(_SRC.c.id == source_id)
        ).scalar_one()
    return found


def test_the_stewards_pages_show_a_re_pointed_source(deployment: DemoGateway) -> None:
    gw = deployment
    carl = console_sign_in(gw, "carl")[0]
    source = 'href="/console/sources/civil-db"'
    assert BADGE not in _piece(_get(carl, "/console/sources"), source, "</tr>")
    assert 'id="source-unsealed"' not in _get(carl, "/console/sources/civil-db")
    assert 'id="source-unsealed"' not in _get(carl, f"/console/sources/entries/{DIBAO}")
    settings = {**_settings(gw, "civil-db"), "schema": "insider"}
    with _changed(gw, _SRC, _SRC.c.id == "civil-db", settings=settings):
        listing = _get(carl, "/console/sources")
        assert BADGE in _piece(listing, source, "</tr>")
        # its entries read through it: they serve nothing either
        assert BADGE in _piece(listing, f'"/console/sources/entries/{DIBAO}"', "</tr>")
        assert 'id="source-unsealed"' in _get(carl, "/console/sources/civil-db")
        assert 'id="source-unsealed"' in _get(carl, f"/console/sources/entries/{DIBAO}")
        refused = carl.get("/console/sources/civil-db?introspect=true")
        assert refused.status_code == 423, refused.text[:300]
        assert "此数据源在网关之外被改动" in refused.text
    assert 'id="source-unsealed"' not in _get(carl, "/console/sources/civil-db")
    assert 'id="source-unsealed"' not in _get(carl, f"/console/sources/entries/{DIBAO}")


@pytest.fixture
def schedule(deployment: DemoGateway) -> Iterator[str]:
    """alice's schedule of the model, made through the API (sealed)."""
    made = deployment.client.post(f"/api/v1/comparison-models/{MODEL}/schedules",
                                  json={"region": ALICE_COUNTY, "every": "weekly", **CASE},
                                  headers=deployment.headers("alice"))  # fmt: skip
    assert made.status_code == 201, made.text
    yield str(made.json()["id"])
    deployment.sql("DELETE FROM comparison_schedules WHERE id = :i", i=made.json()["id"])


def test_the_comparisons_page_shows_a_tampered_model_and_schedule(
    deployment: DemoGateway, schedule: str
) -> None:
    gw = deployment
    alice, csrf = console_sign_in(gw, "alice")
    model, end = f'id="model-{MODEL}"', "</article>"
    assert BADGE not in _piece(_get(alice, "/console/comparisons"), model, end)
    with _changed(gw, _S, _S.c.id == schedule, case_ref="JW-INSIDER"):
        article = _piece(_get(alice, "/console/comparisons"), model, end)
        assert "<h3>" in article and BADGE not in article.split("</h3>", 1)[0]
        assert BADGE in _piece(article, f'id="schedules-{MODEL}"', "</table>")
    with _changed(gw, _M, _M.c.id == MODEL, owner="alice"):
        article = _piece(_get(alice, "/console/comparisons?lang=en"), model, end)
        assert BADGE in article.split("</h3>", 1)[0]
        assert "changed outside the gateway: runs nothing until restored" in article
        refused = alice.post(f"/console/comparisons/models/{MODEL}/run",
                             data={"csrf_token": csrf, **CASE})  # fmt: skip
        assert refused.status_code == 423, refused.text[:300]
        # in English: the page's language stays as ?lang=en chose it
        assert "This comparison model was changed outside the gateway" in refused.text
    assert BADGE not in _piece(_get(alice, "/console/comparisons"), model, end)
