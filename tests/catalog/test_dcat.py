"""The DCAT export read by third-party RDF tools (issue 16): rdflib parses it, pyshacl
validates it against DCAT-AP 3's mandatory properties and ranges
(``shapes/dcat_ap3.ttl``) and against what the issue asks beyond them
(``shapes/sluice_dcat.ttl``); publishers resolve; purposes are ODRL permissions.
Run on the embedded SQLite catalog (times read back without a zone) and on PostgreSQL
(times read back with one)."""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urldefrag, urlsplit

import pytest
from fastapi import FastAPI
from pyshacl import validate
from rdflib import RDF, Graph, Literal, Namespace, URIRef

from catalog import service
from catalog.dcat import DISTRIBUTION_FORMATS, IANA_MEDIA_TYPES, policy_node
from catalog.demo.install import install_demo_catalog
from gateway.core.settings import load_settings
from gateway.enforcement.query.formats import FORMATS
from gateway.web.app import create_app
from tests.conftest import drop_pg_database
from tests.gateway.asgi_client import get
from tests.migrated import create_migrated_pg_database

SHAPES = Path(__file__).parent / "shapes"
DCAT = Namespace("http://www.w3.org/ns/dcat#")
DCT = Namespace("http://purl.org/dc/terms/")
FOAF = Namespace("http://xmlns.com/foaf/0.1/")
ODRL = Namespace("http://www.w3.org/ns/odrl/2/")
BASE = "http://sluice.test"
# rdflib 7.6's own JSON-LD parser builds a ConjunctiveGraph it has deprecated
pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning:rdflib.*")


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def app(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[FastAPI]:
    home = tmp_path_factory.mktemp(f"dcat-{request.param}")
    pg = request.param == "postgres"
    name, url = create_migrated_pg_database("sluice_dcat") if pg else ("", None)
    try:
        app = create_app(load_settings(home=home, database_url=url, public_url=BASE))
        with app.state.services.sessions() as session:
            install_demo_catalog(session=session, data_dir=home / "demo")
            session.commit()
        yield app
        app.state.services.close()
    finally:
        if name:
            drop_pg_database(name)


def _shapes() -> Graph:
    shapes = Graph()
    for name in ("dcat_ap3.ttl", "sluice_dcat.ttl"):
        shapes.parse(SHAPES / name, format="turtle")
    return shapes


def _graph(document: dict[str, Any]) -> Graph:
    return Graph().parse(data=json.dumps(document), format="json-ld")


def _report(document: dict[str, Any]) -> tuple[bool, str]:
    shapes = _shapes()
    conforms, _, text = validate(_graph(document), shacl_graph=shapes, ont_graph=shapes,
                                 inference="none", advanced=True)  # fmt: skip
    return bool(conforms), str(text)


@pytest.fixture(scope="module")
def document(app: FastAPI) -> dict[str, Any]:
    response = get(app, "/api/v1/catalog.jsonld")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/ld+json")
    body: dict[str, Any] = response.json()
    return body


def test_the_export_conforms_to_dcat_ap3_and_the_profile(document: dict[str, Any]) -> None:
    conforms, text = _report(document)
    assert conforms, text
    graph = _graph(document)
    assert len(set(graph.subjects(RDF.type, DCAT.Dataset))) == 5
    assert len(set(graph.subjects(RDF.type, DCAT.Distribution))) == 5 * len(DISTRIBUTION_FORMATS)


def _drop_catalog_publisher(doc: dict[str, Any]) -> None:
    del doc["dct:publisher"]


def _format_as_text(doc: dict[str, Any]) -> None:
    doc["dcat:dataset"][0]["dcat:distribution"][0]["dct:format"] = "application/json"


def _media_type_not_iana(doc: dict[str, Any]) -> None:
    doc["dcat:dataset"][0]["dcat:distribution"][0]["dcat:mediaType"] = {
        "@id": "http://example.org/json", "@type": "dct:MediaType"}  # fmt: skip


def _naive_modified(doc: dict[str, Any]) -> None:
    doc["dcat:dataset"][0]["dct:modified"]["@value"] = "2026-01-02T03:04:05"


def _access_rights_as_text(doc: dict[str, Any]) -> None:
    doc["dcat:dataset"][0]["dct:accessRights"] = "restricted"


def _permission_without_purpose(doc: dict[str, Any]) -> None:
    policy = doc["dcat:dataset"][0]["odrl:hasPolicy"]
    for permission in policy["odrl:permission"]:
        del permission["odrl:constraint"]


def _service_without_endpoint(doc: dict[str, Any]) -> None:
    del doc["dcat:service"]["dcat:endpointURL"]


def _agent_without_name(doc: dict[str, Any]) -> None:
    del doc["dct:publisher"]["foaf:name"]


def _dataset_without_title(doc: dict[str, Any]) -> None:
    del doc["dcat:dataset"][0]["dct:title"]


BREAKS = [  # (defect, the path the report must name)
    (_drop_catalog_publisher, "dct:publisher"), (_format_as_text, "dct:format"),
    (_media_type_not_iana, "dcat:mediaType"), (_naive_modified, "dct:modified"),
    (_access_rights_as_text, "dct:accessRights"), (_permission_without_purpose, "odrl:constraint"),
    (_service_without_endpoint, "dcat:endpointURL"), (_agent_without_name, "foaf:name"),
    (_dataset_without_title, "dct:title"),
]  # fmt: skip


@pytest.mark.parametrize(("breaks", "path"), BREAKS, ids=[b.__name__.strip("_") for b, _ in BREAKS])
def test_the_shapes_catch_each_defect(document: dict[str, Any], breaks: Any, path: str) -> None:
    """The shapes are not vacuous: each defect the issue names fails validation, on the
    property it is about."""
    broken = copy.deepcopy(document)
    breaks(broken)
    conforms, text = _report(broken)
    assert not conforms
    assert f"Result Path: {path}" in text, text


def test_publisher_iris_resolve_to_named_agents(app: FastAPI, document: dict[str, Any]) -> None:
    graph = _graph(document)
    agents = set(graph.objects(None, DCT.publisher)) | set(graph.objects(None, ODRL.assigner))
    assert len(agents) >= 4  # the operator and the three departments
    for agent in agents:
        assert isinstance(agent, URIRef)
        address, _fragment = urldefrag(str(agent))
        assert address.startswith(BASE)
        response = get(app, urlsplit(address).path)
        assert response.status_code == 200, agent
        assert response.headers["content-type"].startswith("application/ld+json")
        names = set(_graph(response.json()).objects(agent, FOAF.name))
        assert names, f"{agent} does not name itself"


def test_a_department_as_json_ld(app: FastAPI) -> None:
    body = get(app, "/api/v1/departments/civil").json()
    assert body["@id"] == f"{BASE}/api/v1/departments/civil"
    assert {"@value": "民政局", "@language": "zh"} in body["foaf:name"]
    missing = get(app, "/api/v1/departments/nowhere")
    assert missing.status_code == 404 and missing.json()["code"] == "not_found"
    assert get(app, "/api/v1/departments/" + "x" * 33).status_code in (400, 422)


def test_purposes_are_odrl_permissions(app: FastAPI, document: dict[str, Any]) -> None:
    graph = _graph(document)
    with app.state.services.sessions() as session:
        entries = service.list_datasets(session=session)
    assert entries
    for entry in entries:
        iri = URIRef(f"{BASE}/api/v1/catalog/{entry.id}")
        (policy,) = graph.objects(iri, ODRL.hasPolicy)
        found = set()
        for permission in graph.objects(policy, ODRL.permission):
            assert graph.value(permission, ODRL.action) == ODRL.use
            constraint = graph.value(permission, ODRL.constraint)
            assert graph.value(constraint, ODRL.leftOperand) == ODRL.purpose
            assert graph.value(constraint, ODRL.operator) == ODRL.eq
            found.add(str(graph.value(constraint, ODRL.rightOperand)))
        assert found == set(entry.allowed_purposes), entry.id
        assert graph.value(policy, ODRL.assigner) == URIRef(
            f"{BASE}/api/v1/departments/{entry.department}"
        )
        # each distribution points at the same policy
        for distribution in graph.objects(iri, DCAT.distribution):
            assert graph.value(distribution, ODRL.hasPolicy) == policy


def test_an_entry_without_purposes_is_a_prohibition(app: FastAPI, document: dict[str, Any]) -> None:
    """No allowed purpose means nothing may be asked for: published as a prohibition,
    and the document still conforms."""
    doc = copy.deepcopy(document)
    policy = doc["dcat:dataset"][0]["odrl:hasPolicy"]
    target = policy["odrl:target"]
    del policy["odrl:permission"]
    use = {"@id": "odrl:use"}
    policy["odrl:prohibition"] = [
        {"@type": "odrl:Prohibition", "odrl:action": use, "odrl:target": target}
    ]
    assert _report(doc)[0]
    with app.state.services.sessions() as session:
        entry = service.list_datasets(session=session)[0]
        entry.allowed_purposes = []
        node = policy_node(entry, BASE)
        session.rollback()
    assert "odrl:permission" not in node
    assert node["odrl:prohibition"][0]["odrl:action"] == {"@id": "odrl:use"}


def test_times_carry_a_timezone(document: dict[str, Any]) -> None:
    graph = _graph(document)
    times = list(graph.objects(None, DCT.modified))
    assert len(times) == 6  # the catalog and its five entries
    for value in times:
        assert isinstance(value, Literal)
        assert value.toPython().utcoffset().total_seconds() == 0, value
    # as sent: RFC 3339 in UTC with "Z" (rdflib normalises it to +00:00 when read)
    sent = [document["dct:modified"]] + [d["dct:modified"] for d in document["dcat:dataset"]]
    assert all(t["@value"].endswith("Z") and t["@type"] == "xsd:dateTime" for t in sent)


def test_one_data_service_serves_every_entry(document: dict[str, Any]) -> None:
    graph = _graph(document)
    (service_iri,) = graph.subjects(RDF.type, DCAT.DataService)
    datasets = set(graph.subjects(RDF.type, DCAT.Dataset))
    assert set(graph.objects(service_iri, DCAT.servesDataset)) == datasets
    for distribution in graph.subjects(RDF.type, DCAT.Distribution):
        assert graph.value(distribution, DCAT.accessService) == service_iri
    assert graph.value(service_iri, DCAT.endpointDescription) == URIRef(f"{BASE}/openapi.json")


def test_published_media_types_are_the_query_formats(document: dict[str, Any]) -> None:
    """Every distribution is a format the query API really serves, under its type."""
    for fmt, media in DISTRIBUTION_FORMATS.items():
        assert FORMATS[fmt].split(";")[0] == media
    graph = _graph(document)
    published = {str(o) for o in graph.objects(None, DCAT.mediaType)}
    assert published == {IANA_MEDIA_TYPES + m for m in DISTRIBUTION_FORMATS.values()}
