"""rows35: every refusal the console's query preview, download and ad-hoc comparison
show is on record, once — as the API's is.

Those pages catch ``Forbidden`` to render it (with the policy's reasons and the request
an approval would lift), so the console's refusal recording (``console.guard``) never
saw it. The policy's own refusals are on record before they reach the page
(``query.denied``, marked ``audited``), but a refusal behind the policy — the planner's
defence in depth (``plan._check_filters``, ``_key_as_token``, ``aggregate``), reached
if the policy ever let one through — was shown to the analyst and recorded nowhere,
where the API's answer to the same request puts it on record as ``request.refused``.
Here the planner is made to refuse (the stand-in for a policy that let a filter
through), and alice's preview, download and comparison must each leave one
``request.refused`` (``console: true``); a policy refusal (a purpose the entry does not
allow) stays one ``query.denied`` and no ``request.refused``.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import closing
from typing import Any

import pytest

from audit.search import EventFilter, list_events
from catalog.errors import Forbidden
from gateway.enforcement.query import plan
from tests.gateway.web.console.conftest import LiveConsole

DIBAO, PAYROLL = "civil.dibao_recipients", "finance.payroll"
QUERY = {"fields": "region_code", "where_0_field": "region_code", "where_0_op": "=",
         "where_0_value": "430121", "purpose": "supervision", "case_ref": "JW-R35-C",
         "page_size": "20", "page": "1"}  # fmt: skip
COMPARE = {"left_dataset": PAYROLL, "left_key": "id_number", "left_fields": "name",
           "right_dataset": DIBAO, "right_key": "id_number", "right_fields": "region_code",
           "purpose": "supervision", "case_ref": "JW-R35-C", "page_size": "20",
           "page": "1"}  # fmt: skip
PAGES = {
    "preview": (f"/console/query/{DIBAO}/preview", QUERY),
    "download": (f"/console/query/{DIBAO}/download", QUERY),
    "comparison": ("/console/comparisons/run", COMPARE),
}


def _events(live: LiveConsole, type_: str) -> list[dict[str, Any]]:
    page = list_events(store=live.gw.services.audit.store,
                       filters=EventFilter(type=type_, actor="alice"), limit=500)  # fmt: skip
    return list(page["items"])


@pytest.fixture
def planner_refuses(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    def refuse(*_args: Any) -> None:
        raise Forbidden("filtering or sorting on 'region_code' is refused")

    monkeypatch.setattr(plan, "_check_filters", refuse)
    yield


@pytest.mark.parametrize("page", list(PAGES))
def test_a_refusal_behind_the_policy_is_on_record_once(
    live: LiveConsole, planner_refuses: None, page: str
) -> None:
    path, form = PAGES[page]
    client, csrf = live.sign_in("alice")
    with closing(client):
        before = len(_events(live, "request.refused"))
        answer = client.post(path, data={**form, "csrf_token": csrf})
    assert answer.status_code == 403, answer.text[:300]
    assert "is refused" in answer.text  # the page shows the refusal's reason
    refused = _events(live, "request.refused")
    assert len(refused) == before + 1, [e.get("resource") for e in refused[: len(refused) - before]]
    event = refused[0]
    assert event["resource"] == path
    assert event["details"]["console"] is True
    assert event["details"]["status"] == 403


@pytest.mark.parametrize("page", list(PAGES))
def test_a_policy_refusal_is_not_recorded_twice(live: LiveConsole, page: str) -> None:
    path, form = PAGES[page]
    client, csrf = live.sign_in("alice")
    with closing(client):
        refused, denied = len(_events(live, "request.refused")), len(_events(live, "query.denied"))
        answer = client.post(path, data={**form, "purpose": "marketing", "csrf_token": csrf})
    assert answer.status_code == 403, answer.text[:300]
    assert len(_events(live, "query.denied")) == denied + 1
    assert len(_events(live, "request.refused")) == refused


def test_the_api_records_the_same_refusal(live: LiveConsole, planner_refuses: None) -> None:
    """The control: the API's answer to the same query puts it on record."""
    before = len(_events(live, "request.refused"))
    body = {"fields": ["region_code"], "where": [{"field": "region_code", "op": "=",
            "value": "430121"}], "purpose": "supervision", "case_ref": "JW-R35-C"}  # fmt: skip
    answer = live.gw.query("alice", DIBAO, body)
    assert answer.status_code == 403, answer.text
    assert len(_events(live, "request.refused")) == before + 1
