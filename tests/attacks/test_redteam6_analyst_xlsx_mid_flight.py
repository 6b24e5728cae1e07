"""Red team 6, as an analyst: a suspension that does not stop an xlsx pull.

Red team 3 made an officer's suspension (or freeze, or a narrowed jurisdiction) stop a
result in flight: past the first response chunk the caller's account is read again
every second (``routes.streaming._governed``). But the check runs only on the chunks
after the first 64 KiB, and the xlsx encoder sends nothing until the whole workbook is
assembled: every batch yields an empty chunk, so the whole source read happens in
``respond``'s head loop, which checks nothing, and the finished workbook (a few MiB
for 200,000 rows) then leaves in a handful of 1 MiB chunks within milliseconds — the
first check is due a second after the head. An analyst who expects to be stopped asks
for ``format=xlsx``: a suspension made while the gateway reads the 200,000 rows is
ignored and every row leaves, on record as ``query.completed``.

Expected: a suspension made while the workbook is being produced stops it — the
result is not delivered whole, and its end on record names ``account_disabled``.

Fixed in ``gateway/web/routes/streaming.respond``: the head is governed too (every
``GOVERN_EVERY_S`` between its chunks, an xlsx's empty ones included, and once more
before the headers leave when it took that long); a refusal there is the response, the
delivery ended as aborted with its code.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from audit.search import EventFilter, list_events
from tests import live_http
from tests.attacks.deployments import KINDS
from tests.attacks.live_gateway import (
    BIG,
    BIG_ROWS,
    CASE,
    Live,
    RawPost,
    deployment_home,
    serve,
    wait_for,
)


@pytest.fixture(scope="module", params=KINDS)
def live(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Live]:
    home = tmp_path_factory.mktemp(f"rt6-xlsx-{request.param}")
    with deployment_home(request.param, home) as gw, serve(gw) as server:
        yield server


def _dora_events(live: Live, kind: str) -> list[dict[str, Any]]:
    page = list_events(store=live.gw.services.audit.store,
                       filters=EventFilter(actor="dora", type=kind), limit=50)  # fmt: skip
    return [e for e in page["items"] if BIG in json.dumps(e.get("resource"))]


def _officer(live: Live, action: str) -> httpx.Response:
    subject = "sam" if action == "suspend" else "root"
    return live_http.post(f"{live.base}/api/v1/users/dora/{action}", json={"reason": "bulk pull"},
                      headers={"Authorization": f"Bearer {live.gw.token(subject)}"},
                      timeout=30)  # fmt: skip


def test_a_suspension_during_an_xlsx_pull_stops_it(live: Live) -> None:
    before = {e["event_id"] for e in _dora_events(live, "query.started")}
    payload = json.dumps({**CASE, "limit": BIG_ROWS}).encode()
    headers = {"Authorization": f"Bearer {live.gw.token('dora')}",
               "Content-Type": "application/json"}  # fmt: skip
    answer: dict[str, RawPost] = {}

    def pull() -> None:
        post = RawPost(live, f"/api/v1/datasets/{BIG}/query?format=xlsx", payload, headers)
        post.read_to_the_end()
        answer["post"] = post

    puller = threading.Thread(target=pull, daemon=True)
    puller.start()
    started = wait_for(
        lambda: [e for e in _dora_events(live, "query.started") if e["event_id"] not in before],
        "the xlsx pull's query.started",
    )[0]
    assert not answer, "the workbook was produced before the officer could act"
    suspended = _officer(live, "suspend")
    assert suspended.status_code == 200, suspended.text
    try:
        puller.join(120)
        assert "post" in answer
        post = answer["post"]
        end = wait_for(
            lambda: [e for e in live.events(started["request_id"])
                     if e["type"] != "query.started"],
            "the pull's end on record",
        )[0]  # fmt: skip
        assert not (post.status == 200 and end["type"] == "query.completed"
                    and end["rows"] == BIG_ROWS), (
            "the suspended analyst received every row of the workbook, recorded as completed"
        )  # fmt: skip
        assert "account_disabled" in json.dumps(end), end
    finally:
        lifted = _officer(live, "unsuspend")
        assert lifted.status_code == 200, lifted.text
