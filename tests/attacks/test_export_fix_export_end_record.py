"""The export fix's left row (2db3e06, e428609), as a security officer and as whoever
kills a gateway mid-export.

``GET /api/v1/audit/export`` puts ``audit.exported`` on record before its first byte,
and an end only when it is cut (``audit.export_aborted``, ``audit.export_failed``): an
export sent whole added no end. So a gateway killed mid-export (or an end record lost)
left a start exactly like a finished export's, and the rule that looks for starts
with no end (``query_never_ended``) read queries and comparisons only. Now every export
sent whole adds ``audit.export_completed`` under its request id, with the events, the
bytes, their SHA-256 and the last seq the client received, and the rule flags an
export's start that has no end.
"""

from __future__ import annotations

import csv
import hashlib
import io
from datetime import datetime, timedelta
from typing import Any

import orjson
import pytest

from audit.alerts import AlertConfig, compute_alerts
from audit.events import parse_ts
from audit.search import EventFilter, list_events
from tests.gateway.demo_app import DemoGateway


def _trail(gw: DemoGateway) -> list[dict[str, Any]]:
    page = list_events(store=gw.services.audit.store, filters=EventFilter(), limit=1000,
                       order="desc")  # fmt: skip
    return list(reversed(page["items"]))


def _export(gw: DemoGateway, fmt: str) -> tuple[bytes, str]:
    resp = gw.client.get(f"/api/v1/audit/export?format={fmt}", headers=gw.headers("sam"))
    assert resp.status_code == 200, resp.text
    return resp.content, resp.headers["x-request-id"]


def _last_seq(body: bytes, fmt: str) -> int:
    if fmt == "csv":
        rows = csv.DictReader(io.StringIO(body.decode()))
        return max(int(r["seq"]) for r in rows if r["kind"] == "event")
    lines = [orjson.loads(line) for line in body.splitlines() if line.strip()]
    return max(int(x["seq"]) for x in lines if x.get("kind") == "event")


@pytest.mark.parametrize("fmt", ["jsonl", "csv"])
def test_an_export_sent_whole_has_its_end_on_record(deployment: DemoGateway, fmt: str) -> None:
    gw = deployment
    body, request_id = _export(gw, fmt)
    ends = [e for e in _trail(gw) if e.get("request_id") == request_id
            and e["type"].startswith("audit.export")]  # fmt: skip
    assert [e["type"] for e in ends] == ["audit.exported", "audit.export_completed"], ends
    end = ends[1]
    assert end["outcome"] == "ok", end
    assert end["details"]["bytes_sent"] == len(body) > 0, end
    assert end["result_sha256"] == hashlib.sha256(body).hexdigest(), end  # what was received
    assert end["details"]["last_seq"] == _last_seq(body, fmt), end
    assert end["rows"] == _last_seq(body, fmt), end  # every event from seq 1 to its head


def _never_ended(events: list[dict[str, Any]], now: datetime) -> list[dict[str, Any]]:
    return [a for a in compute_alerts(events, AlertConfig(now=now))
            if a["rule"] == "query_never_ended"]  # fmt: skip


def test_an_export_whose_end_is_missing_is_flagged(deployment: DemoGateway) -> None:
    gw = deployment
    _body, request_id = _export(gw, "jsonl")
    trail = _trail(gw)
    start = next(e for e in trail if e["type"] == "audit.exported"
                 and e.get("request_id") == request_id)  # fmt: skip
    later = parse_ts(start["ts"]) + timedelta(hours=1)
    flagged = {s for a in _never_ended(trail, later) for o in a["occurrences"] for s in o}
    assert start["seq"] not in flagged  # its end is on record
    # a gateway killed mid-export: the start and no end (nor a record of one lost)
    killed = [
        e
        for e in trail
        if not (e.get("request_id") == request_id and e["type"] != "audit.exported")
    ]
    alerts = _never_ended(killed, later)
    assert [o for a in alerts for o in a["occurrences"] if start["seq"] in o], alerts
    assert {a["subject"] for a in alerts} >= {"sam"}, alerts
