"""Red team 19: a source changed behind the gateway is not named to who may not see it.

Analysts never see a source (an entry's ``DatasetOut`` has no source id) and a steward
sees only their department's sources; yet the 423 ``source_unsealed`` refusal named the
source's id: alice's query of the dibao roll and dora's comparison answered "source
'civil-db' was changed outside the gateway", and every connect being refused while any
source is unsealed, fiona's registration of her own finance source named civil's source
(and told her it had been tampered with). The console's error page shows a 423's message
since 48ae434, so it showed the same. The log still names it for the operators.
"""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

from tests.attacks.test_insider_source_seals import COMPARISON, DIBAO, _changed
from tests.gateway.demo_app import DemoGateway


def _unnamed(resp: Any, source_id: str) -> None:
    assert resp.status_code == 423, resp.text
    body = resp.json()
    assert body["code"] == "source_unsealed", body
    assert source_id not in body["message"], body


def test_a_refusal_over_an_unsealed_source_does_not_name_it(deployment: DemoGateway) -> None:
    gw = deployment
    fin = Path(gw.settings.demo_data_dir) / "finance.db"
    mine = {"id": f"src-{uuid.uuid4().hex[:8]}", "department": "finance", "kind": "sqlite",
            "display_name": "mine", "settings": {"url": f"sqlite:///{fin}"}}  # fmt: skip
    with _changed(gw, "civil-db", server_identity="insider"):
        _unnamed(gw.query("alice", *DIBAO), "civil-db")
        _unnamed(gw.compare("dora", COMPARISON), "civil-db")
        resp = gw.client.post("/api/v1/sources", json=mine, headers=gw.headers("fiona"))
        _unnamed(resp, "civil-db")
