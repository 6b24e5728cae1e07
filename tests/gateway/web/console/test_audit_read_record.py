"""The console's audit timeline records the filters it read, never its query string.

Red team 4: the timeline put ``request.query_params`` verbatim into its ``audit.read``
record, so any parameter and any text (bounded by nothing) went into the trail. A
browser page ignores what it does not know; what is recorded is the filters as read,
each bounded by the page's parameters.
"""

from __future__ import annotations

from audit.search import EventFilter, list_events
from tests.gateway.web.console.conftest import LiveConsole


def test_the_timeline_records_its_filters_not_the_query_string(live: LiveConsole) -> None:
    client, _csrf = live.sign_in("sam")
    page = client.get("/console/audit", params={"actor": "carl", "PLANTED": "B" * 3000})
    assert page.status_code == 200, page.text[:300]
    reads = list_events(
        store=live.gw.services.audit.store,
        filters=EventFilter(actor="sam", type="audit.read"),
        limit=50,
    )["items"]
    console = [e for e in reads if e["details"].get("console") == "audit"]
    assert console and console[0]["details"]["query"] == {"actor": "carl"}, console[:1]
    assert not any("PLANTED" in str(e) for e in reads)
