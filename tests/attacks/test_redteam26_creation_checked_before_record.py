"""Red team 26's creations, at the root: a new row's key read afresh before its record.

Red team 26 found four creations (a source, a draft, a comparison model, a user) whose
loser of two at once put its ``ok`` record on the trail before the primary key refused
it. Each was fixed on its own: the source and the draft by a check written by hand in
their route before the record, the model and the user at their binding. A creation
that came without one (a new route, a new door to an old one) was back to a record of
a row never made. The check now runs where every creation passes: as the new governing
row is added to its session (``row_trail._hold_new``), which each creation does before
its record. Here another request's creation commits between this one's existence check
and its add, as in red team 26's races; the add must be the 409, and leave nothing in
the session to be written.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from catalog.comparison_models import ComparisonModel
from catalog.errors import Conflict
from catalog.models import Dataset, Source, User
from tests.attacks.test_insider_replay_sources_models import _civil_copy
from tests.attacks.test_redteam2_analyst_model_race import BASE
from tests.gateway.demo_app import DemoGateway

Create = Callable[[DemoGateway], Any]


def _source(gw: DemoGateway) -> Any:
    url = _civil_copy(gw, "rows30")[1]
    body = {"id": "civil-rows30", "department": "civil", "kind": "sqlite",
            "display_name": "rows30", "settings": {"url": url}}  # fmt: skip
    return gw.client.post("/api/v1/sources", json=body, headers=gw.headers("carl"))


def _draft(gw: DemoGateway) -> Any:
    body = {"source_id": "civil-db", "object_name": "dibao_recipients",
            "dataset_id": "civil.rows30_draft"}  # fmt: skip
    return gw.client.post("/api/v1/datasets", json=body, headers=gw.headers("carl"))


def _model(gw: DemoGateway) -> Any:
    body = {**BASE, "id": "test.rows30_model"}
    return gw.client.post("/api/v1/comparison-models", json=body, headers=gw.headers("dora"))


def _user(gw: DemoGateway) -> Any:
    body = {"display_name": "Yan", "department": "civil", "clearance": "L1",
            "jurisdiction": [""]}  # fmt: skip
    return gw.client.put("/api/v1/admin/users/yan", json=body, headers=gw.headers("root"))


CASES = [(Source, "civil-rows30", _source), (Dataset, "civil.rows30_draft", _draft),
         (ComparisonModel, "test.rows30_model", _model), (User, "yan", _user)]  # fmt: skip


@pytest.mark.parametrize(("kind", "key", "create"), CASES,
                         ids=["source", "draft", "model", "user"])  # fmt: skip
def test_a_new_row_whose_key_was_taken_meanwhile_is_refused_as_it_is_added(
    deployment: DemoGateway, kind: type, key: str, create: Create
) -> None:
    gw = deployment
    with gw.services.sessions() as session:
        assert session.get(kind, key) is None  # this request found the key free ...
        made = create(gw)  # ... another request's creation of it commits meanwhile ...
        assert made.status_code in (200, 201), made.text
        pk = kind.__mapper__.primary_key[0].key
        with pytest.raises(Conflict, match="made by another request"):
            session.add(kind(**{pk: key}))  # ... then this one adds its own
        assert not session.new, "the refused row would still be written"
        session.rollback()
