"""Red team 11, as a steward: another department's HTTP API under a base path spelled
with path parameters (``;``).

Red team 10 made the ownership check compare an HTTP base path as a server reaches it:
escapes read, dot segments removed, an escaped backslash taken as a slash "as IIS and
some servlet containers read it". Those containers (Tomcat, Jetty, Spring's
``UrlPathHelper``) also cut a segment's path parameters off before they route —
``/civil;jsessionid=x`` is ``/civil``, and ``/finance/..;/civil`` is ``/civil`` (the
classic ``..;`` traversal) — while ``adapters.http_config.path_segments`` kept
``civil;v=1`` and ``..;`` as segments of their own: neither was inside civil's
``/civil``, so fiona's registration went out to the API (502 from this test's server,
which has no such path; a servlet container serves civil's records).

The same held for an object path: ``/..;/civil/people`` under finance's own base
``/finance`` passed the object path's ``..`` check (which compared whole segments) and
was requested as ``/finance/..;/civil/people``.

Expected: a segment is compared without its parameters: 403, "already registered by
department 'civil'", nothing requested; an object path with ``..;`` is refused (400).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.attacks.deployments import KINDS
from tests.attacks.test_redteam10_steward_http_dot_segments import ROWS, _source, civil_api
from tests.gateway.demo_app import DemoGateway
from tests.gateway.stewardship.test_sources_end_to_end import JsonApi


@pytest.fixture(scope="module", params=KINDS)
def world(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[DemoGateway, JsonApi]]:
    home: Path = tmp_path_factory.mktemp(f"rt11-http-{request.param}")
    with civil_api(request.param, home, "sluice_rt11_http") as found:
        yield found


PATHS = ["/finance/..;/civil", "/civil;v=1", "/finance/..;x=1/civil", "/finance/..%3B/civil",
         "/finance;a/..;b/civil;c/"]  # fmt: skip


@pytest.mark.parametrize("path", PATHS)
def test_a_base_path_with_path_parameters_is_the_path_it_reaches(
    world: tuple[DemoGateway, JsonApi], path: str
) -> None:
    gw, api = world
    api.log.clear()
    source_id = f"fin-api-p{PATHS.index(path)}"
    resp = gw.client.post("/api/v1/sources", json=_source(source_id, "finance",
                                                          api.base_url + path),
                          headers=gw.headers("fiona"))  # fmt: skip
    assert resp.status_code == 403, resp.text
    assert "already registered by department 'civil'" in resp.json()["message"], resp.text
    assert not api.log, "a refused source reached the API"


def test_another_path_with_parameters_stays_a_source(world: tuple[DemoGateway, JsonApi]) -> None:
    """The refusal is the path reached: ``/finance;v=1`` is finance's own."""
    gw, api = world
    api.records["finance/people"] = ROWS[:1]
    resp = gw.client.post("/api/v1/sources", json=_source("fin-api-own", "finance",
                                                          api.base_url + "/finance;v=1"),
                          headers=gw.headers("fiona"))  # fmt: skip
    assert resp.status_code in (201, 502), resp.text  # this test server has no ;v=1 paths


@pytest.mark.parametrize("path", ["/..;/civil/people", "/..;x=1/civil/people", "/%2E%2E;/civil"])
def test_an_object_path_with_a_parameterised_dot_dot_is_refused(
    world: tuple[DemoGateway, JsonApi], path: str
) -> None:
    gw, api = world
    api.log.clear()
    body = _source(f"fin-api-o{len(path)}", "finance", api.base_url + "/finance")
    body["settings"]["objects"][0]["path"] = path
    resp = gw.client.post("/api/v1/sources", json=body, headers=gw.headers("fiona"))
    assert resp.status_code == 400, resp.text
    assert not api.log, "a refused source reached the API"
