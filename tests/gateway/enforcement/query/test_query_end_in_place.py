"""A small answer's end is recorded on the event loop when it waits on nothing (every
reserved row sent, the caller's own token cached), else in the thread pool; both ways
the completion is on record with what was sent and the quota is charged exactly that."""

from __future__ import annotations

import time
from pathlib import Path

import orjson

from audit.search import EventFilter, list_events
from tests.gateway.demo_app import DemoGateway, demo_gateway

DIBAO = "civil.dibao_recipients"
CASE = {"purpose": "supervision", "case_ref": "JW-2026-001"}


def _completed(gw: DemoGateway, request_id: str) -> dict:
    for _ in range(100):
        page = list_events(store=gw.services.audit.store,
                           filters=EventFilter(type="query.completed"), limit=50)  # fmt: skip
        found = [e for e in page["items"] if e["request_id"] == request_id]
        if found:
            return found[0]
        time.sleep(0.05)  # queued behind the response: rides with the next commit
    raise AssertionError(f"no query.completed for {request_id}")


def test_both_ends_record_what_was_sent_and_charge_only_that(tmp_path: Path) -> None:
    with demo_gateway(tmp_path / "h", daily_row_quota=1000) as gw:
        limiter, subjects = gw.services.limiter, gw.client.app.state.broker.subjects
        full = {"fields": ["region_code"], "limit": 5, **CASE}  # 5 reserved, 5 sent
        first = gw.query("arthur", DIBAO, full)  # first query: own token not cached yet
        assert first.status_code == 200 and len(orjson.loads(first.content)["rows"]) == 5
        assert subjects.knows_own("arthur")
        left = limiter.remaining_rows("arthur")
        assert left == 995
        again = gw.query("arthur", DIBAO, full)  # now ends in place
        assert _completed(gw, again.headers["X-Request-Id"])["rows"] == 5
        assert limiter.remaining_rows("arthur") == left - 5
        # reserved 500, sent fewer: the unsent rows go back, which takes the thread pool
        few = {"fields": ["region_code"], "limit": 500, **CASE,
               "where": [{"field": "region_code", "op": "=", "value": "none-such"}]}  # fmt: skip
        sparse = gw.query("arthur", DIBAO, few)
        assert sparse.status_code == 200 and orjson.loads(sparse.content)["rows"] == []
        assert _completed(gw, sparse.headers["X-Request-Id"])["rows"] == 0
        assert limiter.remaining_rows("arthur") == left - 5
