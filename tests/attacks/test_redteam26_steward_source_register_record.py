"""Red team 26, as a steward (two registrations of one source id at once: a double
click, or two stewards of civil).

Both find no source of that id (``require_new_source``), then each tests its
connection (the slow part); each puts ``source.registered`` ``ok`` on the trail, and
the second's flush then hits the primary key. Red team 25's rule: a refusal must not
leave an ``ok`` record of a change that was never made. The loser must be a 409 (not a
500), and exactly one registration on record.
"""

from __future__ import annotations

from typing import Any

import pytest

from gateway.stewardship.registration import service
from tests.attacks.test_insider_replay_sources_models import _civil_copy
from tests.attacks.test_redteam26_analyst_model_create_record import (
    both_past,
    one_made_one_on_record,
    two_at_once,
)
from tests.gateway.demo_app import DemoGateway

SOURCE = "civil-twin"


def test_the_losing_registration_is_not_on_record(
    deployment: DemoGateway, monkeypatch: pytest.MonkeyPatch
) -> None:
    gw = deployment
    urls = [_civil_copy(gw, f"twin{i}")[1] for i in range(2)]
    both_past(monkeypatch, service, "check_and_connect")  # both past the check of the id
    results: list[Any] = [None, None]

    def run(i: int) -> None:
        body = {"id": SOURCE, "department": "civil", "kind": "sqlite",
                "display_name": f"twin {i}", "settings": {"url": urls[i]}}  # fmt: skip
        results[i] = gw.client.post("/api/v1/sources", json=body, headers=gw.headers("carl"))

    two_at_once(run)
    one_made_one_on_record(gw, results, "source.registered", f"source:{SOURCE}")
