"""Red team 19: JSON a seal cannot carry, sent by a steward or an analyst, is a 4xx.

Source settings and a comparison model's rule are sealed over canonical JSON (orjson:
64-bit integers, finite floats, 254 levels). Python's JSON parser takes more: ``2**70``,
``NaN``, ``Infinity``, ``1e400``, lists nested 300 deep. A steward's registration or
settings change holding one, or an analyst's model whose constant was an integer beyond
64 bits, raised inside the seal (SQLite and PostgreSQL: a 500; PostgreSQL's JSON column
refused NaN and Infinity too: a 500).
"""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import pytest

from tests.gateway.demo_app import DemoGateway

UNSEALABLE = ("1180591620717411303424", "-9223372036854775809", "NaN", "Infinity", "1e400",
              "[" * 300 + "]" * 300)  # fmt: skip
HOLE = "__number__"


def _raw(gw: DemoGateway, method: str, path: str, subject: str, body: Any, number: str) -> Any:
    """``body`` sent as JSON text, with ``number`` written where it says ``HOLE``."""
    text = json.dumps(body).replace(f'"{HOLE}"', number)
    headers = {**gw.headers(subject), "content-type": "application/json"}
    return gw.client.request(method, path, content=text, headers=headers)


def _refused(resp: Any) -> None:
    assert resp.status_code in (400, 422), resp.text


@pytest.mark.parametrize("number", UNSEALABLE)
def test_a_stewards_source_settings_a_seal_cannot_carry_are_a_4xx(
    deployment: DemoGateway, number: str
) -> None:
    gw = deployment
    url = f"sqlite:///{Path(gw.settings.demo_data_dir) / 'finance.db'}"
    body = {"id": f"src-{uuid.uuid4().hex[:8]}", "department": "finance", "kind": "sqlite",
            "display_name": "x", "settings": {"url": url, "x": HOLE}}  # fmt: skip
    _refused(_raw(gw, "POST", "/api/v1/sources", "fiona", body, number))
    change = {"settings": {"url": url, "x": [HOLE]}}
    _refused(_raw(gw, "PATCH", "/api/v1/sources/finance-db", "fiona", change, number))
    listed = gw.client.get("/api/v1/sources", headers=gw.headers("fiona")).json()
    assert all(s["sealed"] for s in listed), listed


@pytest.mark.parametrize("number", UNSEALABLE)
def test_an_analysts_model_rule_a_seal_cannot_carry_is_a_4xx(
    deployment: DemoGateway, number: str
) -> None:
    gw = deployment
    salary = {"field": "p.monthly_salary"}
    model = {"id": f"test.rt19.{uuid.uuid4().hex[:8]}", "name": {"zh": "z", "en": "e"},
             "sides": [{"alias": "p", "dataset": "finance.payroll", "where": [
                 {"field": "monthly_salary", "op": "in", "value": [1, HOLE]}]},
                       {"alias": "d", "dataset": "civil.dibao_recipients"}],
             "joins": [{"left": "p", "left_key": "id_number", "right": "d",
                        "right_key": "id_number"}],
             "conditions": [{"op": ">", "args": [salary, {"value": HOLE, "type": "number"}]}],
             "output": ["d.region_code"]}  # fmt: skip
    _refused(_raw(gw, "POST", "/api/v1/comparison-models", "dora", model, number))
