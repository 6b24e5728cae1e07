"""Red team 24, as the database insider (INSERT on the audit store): silence every alert.

The insider appends events of their own making at the head, chained correctly (public
arithmetic) but without the gateways' MAC, shaped as the gateway's own deliveries and
publications except for one value each of a type no gateway writes: ``subject_tokens``
a number, ``resource_dept`` and ``level`` lists, ``rows`` and ``request_id`` of other
types. The gateway refuses to chain onto them and seals: the ``audit.sealed`` alert
(critical) is what tells the officers and the channels.

Before: every evaluation of the rules failed on those events (``TypeError`` in the rules
and the token index: ``alert_evaluation_failed`` in the log, nothing else), for as long
as they stayed in the day's window — so the seal's own alert was never opened nor
pushed, nor any other alert that day, and ``GET /api/v1/audit/alerts`` failed for the
officers. Red team 18 dropped events that are not JSON objects; these are. The rules
now read each event through one typed view (``audit.alert_common.slim``) on both
paths, the runner's and the officers' listing: a value of the wrong type is read as
absent.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest

from audit.alert_state import STATE_NAME
from audit.canonical import canonical_json
from audit.events import format_ts, index_of, utc_now
from tests.attacks.console_sign_in import console_sign_in
from tests.attacks.deployments import KINDS, open_deployment
from tests.attacks.test_redteam3_insider_forged_append import (
    _insert_as_runtime_role,
    _make_insider_role,
    _quiet_head,
    _read_trail,
)
from tests.gateway.demo_app import DemoGateway

POISON: list[tuple[str, dict[str, Any]]] = [
    ("query.completed", {"rows": 3, "details": {"subject_tokens": 5}}),
    ("query.completed", {"rows": 3, "details": {"resource_dept": ["civil"], "level": "L3"}}),
    ("query.completed", {"rows": 3, "details": {"resource_dept": "civil", "level": ["L3"]}}),
    ("query.completed", {"rows": "3", "details": {}}),
    ("query.completed", {"rows": "many", "details": {}}),
    ("query.completed", {"rows": [3], "details": {}}),
    ("query.completed", {"rows": 3, "request_id": ["r"], "details": {}}),
    ("query.completed", {"rows": 3, "details": {"subject_tokens": [["t"]]}}),
]


@pytest.fixture(params=KINDS)
def fresh(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[DemoGateway]:
    with open_deployment(request.param, tmp_path / "home", db_prefix="sluice_rt24_alert",
                         alert_eval_seconds=0.2) as gw:  # fmt: skip
        yield gw


def _poison(gw: DemoGateway) -> None:
    _make_insider_role(gw)
    _read_trail(gw)
    seq, head = _quiet_head(gw)
    for type_, extra in POISON:
        seq += 1
        body = {"type": type_, "seq": seq, "ts": format_ts(utc_now()), "outcome": "ok",
                "actor": {"sub": "alice", "dept": None, "roles": ["analyst"]},
                "resource": "dataset:civil.dibao_recipients", **extra}  # fmt: skip
        data = canonical_json(body)
        digest = hashlib.sha256(bytes.fromhex(head) + data).hexdigest()
        _insert_as_runtime_role(gw, (seq, head, digest, data.decode(), None, *index_of(body)))
        head = digest


def _until_sealed(gw: DemoGateway) -> None:
    deadline = time.monotonic() + 10
    while not gw.client.get("/healthz").json().get("sealed"):
        # a read's record meets the forged head: the writer seals
        gw.client.get("/api/v1/audit/events?limit=1", headers=gw.headers("sam"))
        assert time.monotonic() < deadline, "the forged events did not seal the trail"
        time.sleep(0.1)


def _sealed_alert_opened(home: Path) -> bool:
    path = home / STATE_NAME
    lines = path.read_bytes().splitlines() if path.exists() else []
    records = [orjson.loads(line) for line in lines if line.strip()]
    return any(r.get("kind") == "opened" and (r.get("alert") or {}).get("rule") == "audit.sealed"
               for r in records)  # fmt: skip


def test_events_of_odd_shapes_do_not_silence_the_seal_alert(fresh: DemoGateway) -> None:
    gw = fresh
    _poison(gw)
    _until_sealed(gw)
    deadline = time.monotonic() + 10
    while not _sealed_alert_opened(gw.settings.home):
        assert time.monotonic() < deadline, "the seal's alert was never opened (nor pushed)"
        time.sleep(0.1)

    listed = gw.client.get("/api/v1/audit/alerts", headers=gw.headers("sam"))
    assert listed.status_code == 200, listed.text[:300]
    rules = [a["rule"] for a in listed.json()["alerts"]]
    assert rules and rules[0] == "audit.sealed", rules


def test_events_of_odd_shapes_do_not_break_the_officers_charts(fresh: DemoGateway) -> None:
    """The console's charts (queries, denials and rows released per day) read the same
    events: ``rows`` a string was a 500 for every officer for a week."""
    gw = fresh
    console, _csrf = console_sign_in(gw, "sam")  # before: a sign-in is an event
    _poison(gw)
    _until_sealed(gw)
    charts = console.get("/console/audit/charts.json")
    assert charts.status_code == 200, charts.text[:300]
    assert sum(charts.json()["per_day"]["queries"]) >= 0


TIMELINE_POISON: list[dict[str, Any]] = [
    {"type": "query.completed", "actor": ["alice"], "rows": 1},  # no purpose, an actor list
    {"type": "query.completed", "actor": {"sub": "alice"}, "ts_shown": 5},
    {
        "type": "query.started",
        "actor": {"sub": "alice", "roles": "analyst"},
        "decision": "allow",
        "fields": {"name": "clear", "phone": {"action": ["allow"]}},
    },
    {
        "type": "query.started",
        "actor": {"sub": "alice"},
        "decision": {"reasons": 5},
        "fields": ["name"],
    },
]


def test_an_event_of_odd_shape_does_not_take_the_console_timeline_down(fresh: DemoGateway) -> None:
    """The console's timeline and person look-ups (newest first) rendered each event's
    keys as the gateway writes them: one event without ``purpose``, or with an actor
    that is a list, was a 500 for every officer until fifty newer events pushed it off
    the first page — when the seal it caused is being investigated. The event's own
    page likewise, for a ``decision`` or ``fields`` of another shape."""
    gw = fresh
    console, csrf = console_sign_in(gw, "sam")
    alice, _ = console_sign_in(gw, "alice")
    _make_insider_role(gw)
    _read_trail(gw)
    seq, head = _quiet_head(gw)
    for extra in TIMELINE_POISON:
        seq += 1
        body = {"seq": seq, "ts": format_ts(utc_now()), "outcome": "ok",
                "resource": "dataset:civil.dibao_recipients", **extra}  # fmt: skip
        index = index_of({**body, "actor": {"sub": "alice"}})
        if "ts_shown" in body:
            body["ts"] = body.pop("ts_shown")
        data = canonical_json(body)
        digest = hashlib.sha256(bytes.fromhex(head) + data).hexdigest()
        _insert_as_runtime_role(gw, (seq, head, digest, data.decode(), None, *index))
        head = digest
    _until_sealed(gw)
    page = console.get("/console/audit")
    assert page.status_code == 200, page.text[-300:]
    assert f'href="/console/audit/events/{seq}"' in page.text
    home = alice.get("/console")  # her recent queries: the events naming her
    assert home.status_code == 200, home.text[-300:]
    for shown in range(seq - len(TIMELINE_POISON) + 1, seq + 1):  # each event's own page
        one = console.get(f"/console/audit/events/{shown}")
        assert one.status_code == 200, (shown, one.text[-300:])
    found = console.post("/console/audit/lookups",
                         data={"csrf_token": csrf, "id_number": "430102198001010011"})  # fmt: skip
    assert found.status_code == 200, found.text[-300:]
