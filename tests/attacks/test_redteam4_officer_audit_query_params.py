"""Red team 4, as a security officer's tool: what ``GET /api/v1/audit/events`` records.

Every read of the trail is itself on record (``audit.read``) with the search it ran.
That record was the query string as sent: any parameter, any length, any text — an
officer's script (or anyone holding an officer's token) could write 100 KB of chosen
text into the tamper-evident trail per read, or a misspelt filter (``actr=dora``)
silently searched everything and put the typo on record as if it were a filter.

Rule: a parameter the search does not take is refused (422, the message naming the
ones it takes), nothing on record for it; what is recorded is the search as parsed —
known names, typed values, each bounded. The console's timeline records the same way
(``tests/gateway/web/console/test_audit_read_record.py``).
"""

from __future__ import annotations

from typing import Any

from tests.gateway.demo_app import DemoGateway

EVENTS = "/api/v1/audit/events"


def _reads(gw: DemoGateway) -> list[dict[str, Any]]:
    page = gw.client.get(EVENTS, params={"type": "audit.read", "limit": 50},
                         headers=gw.headers("sam"))  # fmt: skip
    assert page.status_code == 200, page.text
    return list(page.json()["items"])


def test_an_unknown_parameter_is_refused_and_not_recorded(deployment: DemoGateway) -> None:
    gw = deployment
    planted = "PLANTED-" + "A" * 5000
    answer = gw.client.get(EVENTS, params={"actor": "dora", planted: planted, "actr": "x"},
                           headers=gw.headers("sam"))  # fmt: skip
    assert answer.status_code == 422, answer.text
    message = answer.json()["message"]
    for name in ("actor", "type", "subject_token", "limit", "order"):
        assert name in message, message
    assert "PLANTED" not in answer.text
    assert not any("PLANTED" in str(e) for e in _reads(gw))


def test_a_misspelt_filter_is_refused_not_widened(deployment: DemoGateway) -> None:
    answer = deployment.client.get(EVENTS, params={"actr": "dora"},
                                   headers=deployment.headers("sam"))  # fmt: skip
    assert answer.status_code == 422, answer.text


def test_the_read_on_record_is_the_parsed_search(deployment: DemoGateway) -> None:
    gw = deployment
    answer = gw.client.get(EVENTS, params={"actor": "dora", "limit": "7",
                                           "since": "2026-01-01T00:00:00+08:00"},
                           headers=gw.headers("sam"))  # fmt: skip
    assert answer.status_code == 200, answer.text
    recorded = [e["details"]["query"] for e in _reads(gw)
                if (e["details"].get("query") or {}).get("actor") == "dora"]  # fmt: skip
    assert recorded, "the read is on record"
    assert recorded[0] == {"actor": "dora", "limit": 7, "order": "desc",
                           "since": "2025-12-31T16:00:00.000000Z"}  # fmt: skip


def test_an_overlong_filter_is_refused(deployment: DemoGateway) -> None:
    answer = deployment.client.get(EVENTS, params={"case_ref": "C" * 5000},
                                   headers=deployment.headers("sam"))  # fmt: skip
    assert 400 <= answer.status_code < 500, answer.text
    assert not any("C" * 200 in str(e) for e in _reads(deployment))
