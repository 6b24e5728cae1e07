"""Red team 5, as a security officer: audit reads that end in a 500.

Rule: bad input is answered 4xx with a message, never a 500 (and a 500 on an audit read
is a read whose outcome the trail cannot tell from a fault of the gateway).

Attack: parameters of the audit reads at the edges of their types —
``GET /api/v1/audit/alerts?until=0001-01-01T00:00:00Z`` (the default window of one day
before it is before year 1: ``OverflowError``), and a page cursor that passes
``str.isdigit`` but is no sequence number: 20 digits (beyond a 64-bit integer: the
database driver overflows), or digits of other scripts (``²``, ``١٢``) for
``GET /api/v1/audit/events`` and ``POST /api/v1/audit/lookups``.
"""

from __future__ import annotations

import pytest

from tests.gateway.demo_app import DemoGateway

CURSORS = ["99999999999999999999", "9223372036854775808", "²", "١٢", "１２"]


@pytest.mark.parametrize(
    "window",
    [{"until": "0001-01-01T00:00:00Z"}, {"until": "0001-01-01T12:00:00+14:00"},
     {"since": "9999-12-31T23:59:59Z", "until": "9999-12-31T23:59:59Z"},
     {"since": "0001-01-01T00:00:00Z", "until": "0001-01-01T00:00:01Z"}],
)  # fmt: skip
def test_alerts_at_the_ends_of_time_are_not_a_500(
    deployment: DemoGateway, window: dict[str, str]
) -> None:
    resp = deployment.client.get("/api/v1/audit/alerts", params=window,
                                 headers=deployment.headers("sam"))  # fmt: skip
    assert resp.status_code in (200, 400), resp.text
    assert resp.json().get("code") != "internal"


@pytest.mark.parametrize("cursor", CURSORS)
def test_a_cursor_that_is_no_sequence_number_is_a_400(deployment: DemoGateway, cursor: str) -> None:
    gw = deployment
    events = gw.client.get("/api/v1/audit/events", params={"cursor": cursor},
                           headers=gw.headers("sam"))  # fmt: skip
    assert events.status_code == 400, events.text
    lookups = gw.client.post("/api/v1/audit/lookups",
                             json={"id_number": "430121199001011234", "cursor": cursor},
                             headers=gw.headers("sam"))  # fmt: skip
    assert lookups.status_code == 400, lookups.text
