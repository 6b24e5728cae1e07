"""The trail records the purpose and case reference policy saw (issue 13).

Before, a query without a case reference was decided with ``case_ref: ""`` while
``query.started`` said ``null``: the record and the decision disagreed. The request
schema now makes a missing (or null) one ``""`` once, at the edge.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi import FastAPI

from policies.decision import Decision, DecisionInput, DecisionPoint
from tests.gateway.demo_app import DemoGateway, demo_gateway

FUNDS = "finance.fund_disbursements"  # L2: no case reference required
FIELDS = ["project", "amount", "region_code"]  # none masked with `hash` (that needs a case)


class RecordingPDP(DecisionPoint):
    """The gateway's own decision point, keeping every input it was asked with."""

    def __init__(self, inner: DecisionPoint) -> None:
        self.inner = inner
        self.inputs: list[DecisionInput] = []

    def decide(self, decision_input: DecisionInput) -> Decision:
        self.inputs.append(decision_input)
        return self.inner.decide(decision_input)

    @property
    def policy_version(self) -> str:
        return self.inner.policy_version


@pytest.fixture(scope="module")
def gw(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DemoGateway]:
    with demo_gateway(tmp_path_factory.mktemp("gw-purpose")) as gateway:
        yield gateway


@pytest.fixture
def recording(gw: DemoGateway) -> Iterator[RecordingPDP]:
    """The spy wherever the gateway asks policy: the services, and the broker (which
    holds its collaborators as attributes read at each request)."""
    app = gw.client.app
    assert isinstance(app, FastAPI)
    holders: list[Any] = [gw.services]
    if hasattr(app.state.broker, "pdp"):
        holders.append(app.state.broker)
    originals = [holder.pdp for holder in holders]
    spy = RecordingPDP(originals[0])
    for holder in holders:
        holder.pdp = spy
    try:
        yield spy
    finally:
        for holder, original in zip(holders, originals, strict=True):
            holder.pdp = original


@pytest.mark.parametrize(
    "scope",
    [
        {"purpose": "supervision"},  # no case_ref at all
        {"purpose": "supervision", "case_ref": None},  # an explicit null
    ],
)
def test_query_started_and_the_decision_input_agree(
    gw: DemoGateway, recording: RecordingPDP, scope: dict[str, str | None]
) -> None:
    resp = gw.query("arthur", FUNDS, {"fields": FIELDS, "limit": 2, **scope})
    assert resp.status_code == 200, resp.text
    started = gw.request_events(resp.headers["X-Request-Id"], 1)[0]
    assert started["type"] == "query.started"
    asked = recording.inputs[-1].request
    assert started["case_ref"] == asked["case_ref"] == ""
    assert started["purpose"] == asked["purpose"] == "supervision"


def test_a_refusal_records_what_policy_saw_too(gw: DemoGateway, recording: RecordingPDP) -> None:
    resp = gw.query("arthur", FUNDS, {"limit": 2, "purpose": None, "case_ref": None})
    assert resp.status_code == 403, resp.text
    denied = gw.request_events(gw.last_request_id(), 1)[0]
    assert denied["type"] == "query.denied"
    asked = recording.inputs[-1].request
    assert (denied["purpose"], denied["case_ref"]) == (asked["purpose"], asked["case_ref"])
    assert (denied["purpose"], denied["case_ref"]) == ("", "")
