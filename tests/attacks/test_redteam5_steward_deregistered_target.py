"""Red team 5, as a steward: another department's system claimed once it deregistered it.

Attack: civil's steward deregisters ``civil-db`` (to retire it, or to register it again
under a new id: ids are never reused, so that is the only way to rename a source). The
tombstone left behind keeps who and when, and no settings — so the ownership check
(``refuse_foreign_target``: "not a system another department registered first") no
longer sees civil's database at all. fiona, finance's steward, then registers a source
of her own on civil's database file (201), introspects it, publishes civil's recipients
as a finance entry and decides every access request to it; and when civil comes back to
register its own database again, *civil* is refused: "already registered by department
finance".

Rule broken: a source is what it connects to, and a system belongs to the department
that registered it first (THREAT_MODEL, issue 11 class 2; ATTACKS.md "Identity of a
target"): withdrawing a source does not hand its data to whoever registers it next.

On the embedded SQLite default and on PostgreSQL (``deployment``).
"""

from __future__ import annotations

from typing import Any

from catalog.models import Source
from tests.gateway.demo_app import DemoGateway

SOURCES = "/api/v1/sources"


def _settings(gw: DemoGateway, source_id: str) -> dict[str, Any]:
    with gw.services.sessions() as session:
        source = session.get(Source, source_id)
        assert source is not None
        return dict(source.settings or {})


def _register(gw: DemoGateway, who: str, source_id: str, department: str,
              settings: dict[str, Any]) -> Any:  # fmt: skip
    body = {"id": source_id, "department": department, "kind": "sqlite",
            "display_name": f"{department} records", "settings": settings}  # fmt: skip
    return gw.client.post(SOURCES, json=body, headers=gw.headers(who))


def test_a_deregistered_system_stays_its_departments(deployment: DemoGateway) -> None:
    gw = deployment
    civil = _settings(gw, "civil-db")
    # before: fiona may not register civil's database (held since issue 11)
    assert _register(gw, "fiona", "fin-claim-1", "finance", civil).status_code == 403
    gone = gw.client.delete(f"{SOURCES}/civil-db", headers=gw.headers("carl"))
    assert gone.status_code == 200, gone.text

    claimed = _register(gw, "fiona", "fin-claim-2", "finance", civil)
    assert claimed.status_code == 403, claimed.text
    assert "civil" in claimed.json()["message"]
    # nor by re-pointing a source finance already has
    repointed = gw.client.patch(f"{SOURCES}/finance-db", json={"settings": civil},
                                headers=gw.headers("fiona"))  # fmt: skip
    assert repointed.status_code == 403, repointed.text
    # civil may register its own database again, under a new id
    back = _register(gw, "carl", "civil-db-2", "civil", civil)
    assert back.status_code == 201, back.text
    # and, once back, finance is still refused
    assert _register(gw, "fiona", "fin-claim-3", "finance", civil).status_code == 403
