"""Red team 59, as an insider of the catalog database, against the portals that harvest
the gateway's DCAT catalog.

Attack: the dibao roll's ``id_number`` field is written down to L1, not personal, and
the entry's purposes widened, behind the gateway (a Core write: no seal is made). The
API's listing says ``sealed: false`` and the broker refuses the entry (423
``entry_unsealed``); the console marks it "changed outside the gateway: serves nothing
until restored" (the fix of ``test_insider_unsealed_console_catalog``). But the public
DCAT document (``GET /api/v1/catalog.jsonld``, no token) published the insider's row as
the gateway's own word: ``sluice:level`` L1 for the ID numbers, ``piCategory`` none, an
ODRL offer for a purpose no steward allowed — to every harvester, with no mark.

Rule: what a database insider writes behind the gateway serves nothing until restored
(THREAT_MODEL, entry seals); the catalog the gateway publishes is one of the things it
serves. Expected: an entry that does not verify is left out of the DCAT catalog (and
out of the query service's ``servesDataset``) until its sealed values are written back.

On the embedded SQLite default and on PostgreSQL (``deployment``).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Table, select

from catalog.models import Dataset, Field
from tests.attacks.test_insider_unsealed_console_catalog import _changed
from tests.gateway.demo_app import DemoGateway

DIBAO = "civil.dibao_recipients"
PAYROLL = "finance.payroll"
_F: Table = Field.__table__  # type: ignore[assignment]
_D: Table = Dataset.__table__  # type: ignore[assignment]


def _published(gw: DemoGateway) -> dict[str, dict[str, Any]]:
    """The DCAT catalog's datasets by id, and the ids the query service serves."""
    resp = gw.client.get("/api/v1/catalog.jsonld")
    assert resp.status_code == 200, resp.text
    document = resp.json()
    nodes = {n["dct:identifier"]: n for n in document["dcat:dataset"]}
    served = {s["@id"].rsplit("/", 1)[1] for s in document["dcat:service"]["dcat:servesDataset"]}
    assert served == set(nodes), (served, set(nodes))
    return nodes


def test_a_field_declassified_behind_the_gateway_is_not_published(
    deployment: DemoGateway,
) -> None:
    gw = deployment
    assert DIBAO in _published(gw)
    where = (_F.c.dataset_id == DIBAO) & (_F.c.name == "id_number")
    with _changed(gw, _F, where, level="L1", pi_category="none"):
        listed = gw.client.get("/api/v1/catalog").json()
        assert [d["sealed"] for d in listed if d["id"] == DIBAO] == [False]
        nodes = _published(gw)
        assert DIBAO not in nodes, [f for f in nodes[DIBAO]["sluice:field"]
                                    if f["sluice:name"] == "id_number"]  # fmt: skip
        assert PAYROLL in nodes  # an entry that verifies is published as it is
    assert DIBAO in _published(gw)


def test_purposes_widened_behind_the_gateway_are_not_offered(deployment: DemoGateway) -> None:
    gw = deployment
    with gw.services.engine.connect() as conn:
        purposes = conn.execute(select(_D.c.allowed_purposes).where(_D.c.id == DIBAO)).scalar_one()
    with _changed(gw, _D, _D.c.id == DIBAO, allowed_purposes=[*purposes, "marketing"]):
        nodes = _published(gw)
        assert DIBAO not in nodes, nodes[DIBAO]["sluice:allowedPurpose"]
