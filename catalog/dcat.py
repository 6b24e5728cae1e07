"""The published catalog as DCAT (W3C Data Catalog Vocabulary 3, DCAT-AP 3) in JSON-LD.

Other data portals harvest this document with RDF tools (rdflib, pyshacl), so every
fact is a proper RDF statement, not text a harvester would have to parse:

- the catalog and each entry have a publisher (``foaf:Agent``) whose IRI resolves: a
  department is ``/api/v1/departments/{code}`` (``department_document``), the catalog's
  own publisher, the gateway's operator, a node of this document (``#publisher``);
- ``dct:format`` and ``dcat:mediaType`` are IANA media-type IRIs, so a distribution is
  published only for the query formats IANA registers (JSON, CSV, Parquet, Arrow IPC
  stream): NDJSON has no registered type, and ``csv_raw`` is CSV; the data service lists
  what it serves;
- ``dct:accessRights`` is the EU access-right authority's ``RESTRICTED`` (a
  ``dct:RightsStatement``): data leaves only to authenticated callers, for an allowed
  purpose, on record;
- one ``dcat:DataService`` describes the query endpoint (its OpenAPI document is the
  endpoint description) and serves every entry;
- ``dct:modified`` is an ``xsd:dateTime`` in UTC with ``Z`` (the catalog stores UTC; a
  value read back without a zone, as SQLite returns it, is UTC);
- each entry's allowed purposes are an ODRL offer (``odrl:hasPolicy``): one permission
  to use the entry per allowed purpose, each constrained by ``odrl:purpose``; an entry
  with no allowed purpose carries a prohibition instead. The policy is what an analyst
  may ask for; clearance, masks and row filters are still decided per request.

Sluice-specific facts (classification level, field schema with PI categories) use the
``sluice:`` namespace so harvesters that do not know them can ignore them. Only
published entries belong here; the caller passes them in.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from catalog.models import Dataset, Department
from catalog.timestamps import utc_text

CONTEXT: dict[str, str] = {
    "dcat": "http://www.w3.org/ns/dcat#",
    "dct": "http://purl.org/dc/terms/",
    "foaf": "http://xmlns.com/foaf/0.1/",
    "odrl": "http://www.w3.org/ns/odrl/2/",
    "xsd": "http://www.w3.org/2001/XMLSchema#",
    "sluice": "https://sluice.example.org/ns#",
}
_FREQUENCY = "http://publications.europa.eu/resource/authority/frequency/"
FREQUENCIES: dict[str, str] = {
    "realtime": "UPDATE_CONT",
    "hourly": "HOURLY",
    "daily": "DAILY",
    "weekly": "WEEKLY",
    "monthly": "MONTHLY",
    "quarterly": "QUARTERLY",
    "yearly": "ANNUAL",
}
IANA_MEDIA_TYPES = "https://www.iana.org/assignments/media-types/"
# query format -> its IANA-registered media type (the distributions published)
DISTRIBUTION_FORMATS: dict[str, str] = {
    "json": "application/json",
    "csv": "text/csv",
    "parquet": "application/vnd.apache.parquet",
    "arrow": "application/vnd.apache.arrow.stream",
}
ACCESS_RESTRICTED = "http://publications.europa.eu/resource/authority/access-right/RESTRICTED"
OPENAPI_3 = "https://spec.openapis.org/oas/v3.1.0"
OPERATOR_NAME = ("Sluice 数据共享网关运营方", "Operator of the Sluice data-sharing gateway")


def _texts(zh: str, en: str) -> list[dict[str, str]]:
    return [
        {"@value": value, "@language": lang} for value, lang in ((zh, "zh"), (en, "en")) if value
    ]


def _utc(value: datetime) -> datetime:
    """The catalog stores UTC; a value read back without a zone (SQLite) is UTC."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def utc_datetime(value: datetime) -> dict[str, str]:
    """An ``xsd:dateTime`` literal in UTC with ``Z``, in the API's one style
    (``catalog.timestamps``)."""
    return {"@value": utc_text(value), "@type": "xsd:dateTime"}


def media_type(name: str) -> dict[str, Any]:
    """An IANA media-type IRI as a ``dct:MediaType`` node."""
    return {"@id": IANA_MEDIA_TYPES + name, "@type": "dct:MediaType"}


def department_iri(base: str, code: str) -> str:
    return f"{base}/api/v1/departments/{code}"


def agent_node(base: str, dept: Department | None, code: str) -> dict[str, Any]:
    """A department as a ``foaf:Organization``; its IRI resolves to the same node."""
    return {
        "@id": department_iri(base, code),
        "@type": "foaf:Organization",
        "foaf:name": _texts(dept.name_zh, dept.name_en) if dept else code,
        "dct:identifier": code,
    }


def department_document(*, dept: Department, base_url: str) -> dict[str, Any]:
    """What ``GET /api/v1/departments/{code}`` answers: the publisher node, standalone."""
    return {"@context": CONTEXT, **agent_node(base_url.rstrip("/"), dept, dept.code)}


def _catalog_iri(base: str) -> str:
    return f"{base}/api/v1/catalog.jsonld"


def _service_iri(base: str) -> str:
    return f"{_catalog_iri(base)}#query-service"


def _entry_iri(base: str, dataset_id: str) -> str:
    return f"{base}/api/v1/catalog/{dataset_id}"


def policy_node(ds: Dataset, base: str) -> dict[str, Any]:
    """The entry's allowed purposes as an ODRL offer from its department."""
    target = {"@id": _entry_iri(base, ds.id)}
    use = {"@id": "odrl:use"}
    node: dict[str, Any] = {
        "@id": f"{_entry_iri(base, ds.id)}#policy",
        "@type": "odrl:Offer",
        "odrl:uid": {"@id": f"{_entry_iri(base, ds.id)}#policy"},
        "odrl:assigner": {"@id": department_iri(base, ds.department)},
        "odrl:target": target,
    }
    purposes = list(ds.allowed_purposes or [])
    if not purposes:  # policy allows no purpose: nothing may be asked for
        node["odrl:prohibition"] = [{"@type": "odrl:Prohibition", "odrl:action": use,
                                     "odrl:target": target}]  # fmt: skip
        return node
    node["odrl:permission"] = [
        {
            "@type": "odrl:Permission",
            "odrl:action": use,
            "odrl:target": target,
            "odrl:constraint": {
                "@type": "odrl:Constraint",
                "odrl:leftOperand": {"@id": "odrl:purpose"},
                "odrl:operator": {"@id": "odrl:eq"},
                "odrl:rightOperand": purpose,
            },
        }
        for purpose in purposes
    ]
    return node


def _distributions(ds: Dataset, base: str) -> list[dict[str, Any]]:
    """One distribution per registered query format, all through the query service."""
    entry = _entry_iri(base, ds.id)
    title_zh = ds.title_zh or ds.id
    title_en = ds.title_en or ds.id
    return [
        {
            "@id": f"{entry}#distribution-{fmt}",
            "@type": "dcat:Distribution",
            "dct:title": _texts(f"{title_zh}（{fmt}）", f"{title_en} ({fmt})"),
            "dcat:accessURL": {"@id": f"{base}/api/v1/datasets/{ds.id}/query"},
            "dcat:accessService": {"@id": _service_iri(base)},
            "dct:format": media_type(name),
            "dcat:mediaType": media_type(name),
            "dct:accessRights": {"@id": ACCESS_RESTRICTED, "@type": "dct:RightsStatement"},
            "odrl:hasPolicy": {"@id": f"{entry}#policy"},
        }
        for fmt, name in DISTRIBUTION_FORMATS.items()
    ]


def dataset_node(ds: Dataset, base: str, dept: Department | None) -> dict[str, Any]:
    """One ``dcat:Dataset``."""
    frequency = FREQUENCIES.get(ds.update_frequency)
    node: dict[str, Any] = {
        "@id": _entry_iri(base, ds.id),
        "@type": "dcat:Dataset",
        "dct:identifier": ds.id,
        "dct:title": _texts(ds.title_zh, ds.title_en),
        "dct:description": _texts(ds.description_zh, ds.description_en),
        "dcat:keyword": list(ds.tags or []),
        "dct:publisher": agent_node(base, dept, ds.department),
        "dct:modified": utc_datetime(ds.updated_at),
        "dcat:landingPage": {"@id": _entry_iri(base, ds.id)},
        "dct:accessRights": {"@id": ACCESS_RESTRICTED, "@type": "dct:RightsStatement"},
        "odrl:hasPolicy": policy_node(ds, base),
        "dcat:distribution": _distributions(ds, base),
        "sluice:level": ds.level,
        "sluice:allowedPurpose": list(ds.allowed_purposes or []),
        "sluice:schemaVersion": ds.schema_version,
        "sluice:field": [
            {
                "@type": "sluice:Field",
                "sluice:name": f.name,
                "sluice:type": f.type,
                "sluice:level": f.level,
                "sluice:piCategory": f.pi_category,
                "dct:description": f.description,
            }
            for f in ds.fields
        ],
    }
    if frequency:
        node["dct:accrualPeriodicity"] = {"@id": _FREQUENCY + frequency}
    if ds.region_field:
        node["sluice:regionField"] = ds.region_field
    return node


def service_node(base: str, dataset_ids: list[str], publisher: dict[str, Any]) -> dict[str, Any]:
    """The governed query endpoint as one ``dcat:DataService`` serving every entry."""
    return {
        "@id": _service_iri(base),
        "@type": "dcat:DataService",
        "dct:title": _texts("Sluice 受控查询接口", "Sluice governed query API"),
        "dct:description": _texts(
            "按目录条目、声明的用途和案件编号查询；逐字段脱敏、逐行过滤，每次查询留痕。",
            "POST /api/v1/datasets/{id}/query with a bearer token, a declared purpose and "
            "a case reference; fields masked and rows filtered by policy; every query on "
            "the tamper-evident audit trail.",
        ),
        "dcat:endpointURL": {"@id": f"{base}/api/v1/"},
        "dcat:endpointDescription": {"@id": f"{base}/openapi.json"},
        "dct:conformsTo": {"@id": OPENAPI_3},
        "dct:publisher": {"@id": publisher["@id"]},
        "dct:accessRights": {"@id": ACCESS_RESTRICTED, "@type": "dct:RightsStatement"},
        "dct:format": [media_type(name) for name in DISTRIBUTION_FORMATS.values()],
        "dcat:servesDataset": [{"@id": _entry_iri(base, i)} for i in dataset_ids],
    }


def catalog_document(
    *,
    datasets: Iterable[Dataset],
    departments: Iterable[Department],
    base_url: str,
) -> dict[str, Any]:
    """The ``dcat:Catalog`` holding ``datasets``; ``base_url`` makes the node ids absolute."""
    base = base_url.rstrip("/")
    by_code = {d.code: d for d in departments}
    entries = list(datasets)
    publisher = {
        "@id": f"{_catalog_iri(base)}#publisher",
        "@type": "foaf:Organization",
        "foaf:name": _texts(*OPERATOR_NAME),
    }
    document: dict[str, Any] = {
        "@context": CONTEXT,
        "@id": _catalog_iri(base),
        "@type": "dcat:Catalog",
        "dct:title": _texts("Sluice 数据资源目录", "Sluice data resource catalog"),
        "dct:description": _texts(
            "监督执纪数据共享网关发布的数据资源目录",
            "Datasets that partner departments share through the Sluice gateway "
            "for oversight work.",
        ),
        "dct:publisher": publisher,
        "dcat:service": service_node(base, [d.id for d in entries], publisher),
        "dcat:dataset": [dataset_node(d, base, by_code.get(d.department)) for d in entries],
    }
    if entries:
        document["dct:modified"] = utc_datetime(max(_utc(d.updated_at) for d in entries))
    return document
