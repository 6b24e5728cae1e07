"""Red team 26, as a steward (two drafts of one entry id at once: a double click).

Both find the id free (``require_new_dataset_id``), then each introspects the source
object (the slow part); each put ``dataset.updated`` (``draft_created``) ``ok`` on the
trail and the second's flush hit the primary key. Red team 25's rule: a refusal must
not leave an ``ok`` record of a change that was never made; and a 409, not a 500.
"""

from __future__ import annotations

from typing import Any

import pytest

from gateway.stewardship.registration import datasets
from tests.attacks.test_redteam26_analyst_model_create_record import both_past, two_at_once
from tests.gateway.comparison_env import events
from tests.gateway.demo_app import DemoGateway

ENTRY = "civil.rt26_twin"


def test_the_losing_draft_is_not_on_record(
    deployment: DemoGateway, monkeypatch: pytest.MonkeyPatch
) -> None:
    gw = deployment
    both_past(monkeypatch, datasets, "_inspect_object")  # both past the check of the id
    results: list[Any] = [None, None]

    def run(i: int) -> None:
        body = {"source_id": "civil-db", "object_name": "dibao_recipients",
                "dataset_id": ENTRY, "title_en": f"twin {i}"}  # fmt: skip
        results[i] = gw.client.post("/api/v1/datasets", json=body, headers=gw.headers("carl"))

    two_at_once(run)
    codes = sorted(r.status_code for r in results)
    assert codes == [201, 409], [r.text for r in results]
    drafted = [e for e in events(gw, types=("dataset.updated",))
               if e["resource"] == f"dataset:{ENTRY}"
               and e["details"].get("change") == "draft_created"]  # fmt: skip
    assert len(drafted) == 1, f"the loser left a draft on record: {drafted}"
