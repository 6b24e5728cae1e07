"""The published catalog as DCAT (W3C Data Catalog Vocabulary) in JSON-LD.

Other data portals harvest this document, so it uses the standard vocabularies:
``dcat:``, ``dct:`` (Dublin Core terms), ``foaf:`` for publishers, the EU frequency
authority table for ``dct:accrualPeriodicity``. Sluice-specific facts (classification
level, allowed purposes, the field schema with PI categories) use the ``sluice:``
namespace so harvesters that do not know them can ignore them. Only published
entries belong here; the caller passes them in.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from catalog.models import Dataset, Department

CONTEXT: dict[str, str] = {
    "dcat": "http://www.w3.org/ns/dcat#",
    "dct": "http://purl.org/dc/terms/",
    "foaf": "http://xmlns.com/foaf/0.1/",
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


def _texts(zh: str, en: str) -> list[dict[str, str]]:
    return [
        {"@value": value, "@language": lang} for value, lang in ((zh, "zh"), (en, "en")) if value
    ]


def _publisher(base: str, dept: Department | None, code: str) -> dict[str, Any]:
    node: dict[str, Any] = {
        "@id": f"{base}/api/v1/departments/{code}",
        "@type": "foaf:Organization",
    }
    node["foaf:name"] = _texts(dept.name_zh, dept.name_en) if dept else code
    return node


def dataset_node(ds: Dataset, base: str, dept: Department | None) -> dict[str, Any]:
    """One ``dcat:Dataset``."""
    frequency = FREQUENCIES.get(ds.update_frequency)
    node: dict[str, Any] = {
        "@id": f"{base}/api/v1/catalog/{ds.id}",
        "@type": "dcat:Dataset",
        "dct:identifier": ds.id,
        "dct:title": _texts(ds.title_zh, ds.title_en),
        "dct:description": _texts(ds.description_zh, ds.description_en),
        "dcat:keyword": list(ds.tags or []),
        "dct:publisher": _publisher(base, dept, ds.department),
        "dct:modified": {"@value": ds.updated_at.isoformat(), "@type": "xsd:dateTime"},
        "dcat:landingPage": {"@id": f"{base}/api/v1/catalog/{ds.id}"},
        "dcat:distribution": [
            {
                "@type": "dcat:Distribution",
                "dcat:accessURL": {"@id": f"{base}/api/v1/datasets/{ds.id}/query"},
                "dct:format": "application/json",
                "dct:accessRights": "restricted: authenticated, purpose-bound, audited",
            }
        ],
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


def catalog_document(
    *,
    datasets: Iterable[Dataset],
    departments: Iterable[Department],
    base_url: str,
) -> dict[str, Any]:
    """The ``dcat:Catalog`` holding ``datasets``; ``base_url`` makes the node ids absolute."""
    base = base_url.rstrip("/")
    by_code = {d.code: d for d in departments}
    return {
        "@context": CONTEXT,
        "@id": f"{base}/api/v1/catalog.jsonld",
        "@type": "dcat:Catalog",
        "dct:title": _texts("Sluice 数据资源目录", "Sluice data resource catalog"),
        "dct:description": _texts(
            "监督执纪数据共享网关发布的数据资源目录",
            "Datasets that partner departments share through the Sluice gateway "
            "for oversight work.",
        ),
        "dcat:dataset": [dataset_node(d, base, by_code.get(d.department)) for d in datasets],
    }
