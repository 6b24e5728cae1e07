"""Red team 10, as a steward: register another department's HTTP API by a base URL
spelled with dot segments.

Rule: a source is what it connects to, not how its settings spell it; a system one
department registered is never another department's source (``refuse_foreign_target``,
``EffectiveTarget.same_system``: for HTTP, one base path inside the other).

Attack: civil registers its API at ``http://127.0.0.1:<port>/civil``. fiona (finance)
registers ``http://127.0.0.1:<port>/finance/../civil`` — or ``/./civil`` — with the same
object paths. The ownership check compared the path as spelled (segments ``finance``,
``..``, ``civil``: not inside ``/civil``), while the HTTP client removes dot segments
before sending (RFC 3986), so every request of finance's source went to civil's
``/civil/people``: 201, and civil's records became finance's to publish.

Expected: the path compared is the one requested (dot segments removed, escaped dots
read as dots): 403, "already registered by department 'civil'", nothing requested.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from tests.attacks.deployments import KINDS, open_deployment
from tests.gateway.demo_app import DemoGateway
from tests.gateway.stewardship.test_sources_end_to_end import JsonApi, serve_json_api

ROWS = [{"id": i, "name": f"person {i}", "region_code": "430121"} for i in range(3)]


@contextmanager
def civil_api(kind: str, home: Path, db_prefix: str) -> Iterator[tuple[DemoGateway, JsonApi]]:
    """A deployment of ``kind`` with civil's HTTP API (``/civil/people``) registered by
    carl; red team 11's path-parameter attacks start from the same world."""
    with serve_json_api() as api, open_deployment(
        kind, home, db_prefix=db_prefix, http_allow_hosts=["127.0.0.1"]
    ) as gw:  # fmt: skip
        api.records["civil/people"] = ROWS
        resp = gw.client.post("/api/v1/sources", json=_source("civil-api", "civil",
                                                               api.base_url + "/civil"),
                              headers=gw.headers("carl"))  # fmt: skip
        assert resp.status_code == 201, resp.text
        yield gw, api


@pytest.fixture(scope="module", params=KINDS)
def world(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[DemoGateway, JsonApi]]:
    home: Path = tmp_path_factory.mktemp(f"rt10-http-{request.param}")
    with civil_api(request.param, home, "sluice_rt10_http") as found:
        yield found


def _source(source_id: str, department: str, base_url: str) -> dict[str, Any]:
    return {
        "id": source_id, "department": department, "kind": "http",
        "display_name": f"{department} API",
        "settings": {"base_url": base_url, "auth": "none", "objects": [
            {"name": "people", "path": "/people", "records": "data.items",
             "paging": {"style": "page", "page_param": "page", "size_param": "per_page"}},
        ]},
    }  # fmt: skip


PATHS = [
    "/finance/../civil",
    "/./civil",
    "/finance/%2E%2E/civil",
    "/finance/.%2e/civil/",
    # a server that takes a backslash for a slash (IIS, some servlet containers); a
    # raw one is refused as any URL with a backslash is
    "/finance%5C..%5Ccivil",
    "/finance/..%5Ccivil",
]


@pytest.mark.parametrize("path", PATHS)
def test_a_base_url_with_dot_segments_is_the_path_it_reaches(
    world: tuple[DemoGateway, JsonApi], path: str
) -> None:
    gw, api = world
    api.log.clear()
    source_id = f"fin-api-{PATHS.index(path)}"
    resp = gw.client.post("/api/v1/sources", json=_source(source_id, "finance",
                                                          api.base_url + path),
                          headers=gw.headers("fiona"))  # fmt: skip
    assert resp.status_code == 403, resp.text
    assert "already registered by department 'civil'" in resp.json()["message"], resp.text
    assert not api.log, "a refused source reached the API"
