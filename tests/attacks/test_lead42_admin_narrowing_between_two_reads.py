"""The lead (stop 42), as an administrator narrowing an analyst's jurisdiction while
her download is in flight, against the stream's re-check (ATTACKS.md: freshness).

A stream in flight is governed by ``Broker.check_still_allowed`` with the caller's
identity as the directory resolves it now. Two reads of the catalog's generation were
made: the directory's (which identity) and the broker's (``seen``: nothing is decided
again while it stands). A change that committed between them was decided with the
identity from before it, under the newer generation, so it was never decided again and
the download ran to its last row, on record as ``completed``: red team 4's mid-stream
test failed so on PostgreSQL in this stop's final clean-clone run.

Attack (made deterministic): the admin's narrowing commits right after the directory
has resolved dora for the first re-check.

Expected: a later re-check decides with her identity as it is now: the rest is refused
and the end is on record as aborted (``forbidden``). On both deployments.
"""

from __future__ import annotations

import sys
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from gateway.stewardship.users.directory import IdentityDirectory
from tests.attacks.deployments import KINDS
from tests.attacks.live_gateway import BIG, BIG_ROWS, deployment_home
from tests.gateway.demo_app import DemoGateway


@pytest.fixture(scope="module", params=KINDS)
def gw(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
       ) -> Iterator[DemoGateway]:  # fmt: skip
    home = tmp_path_factory.mktemp(f"lead42-narrow-{request.param}")
    with deployment_home(request.param, home, stream_govern_every_s=0.001,
                         stream_stall_timeout_s=60.0) as gateway:  # fmt: skip
        yield gateway


def test_a_narrowing_between_the_two_reads_still_stops_the_stream(
    gw: DemoGateway, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = IdentityDirectory.resolve_at
    calls = [0]

    def resolve_at(self: IdentityDirectory, token_user: Any) -> Any:
        found = real(self, token_user)
        callers = {sys._getframe(n).f_code.co_name for n in range(1, 5)}  # via ``resolve``
        if "governs" in callers:  # a re-check of the stream
            calls[0] += 1
            if calls[0] == 1:  # the first: the admin's change commits right after it
                gw.edit_user("dora", jurisdiction=["430121"])
        return found

    monkeypatch.setattr(IdentityDirectory, "resolve_at", resolve_at)
    before = gw.listed_user("dora")["jurisdiction"]
    case = f"JW-L42-{uuid.uuid4().hex[:6]}"
    try:
        resp = gw.query("dora", BIG, {"purpose": "supervision", "case_ref": case,
                                      "limit": BIG_ROWS}, format="csv")  # fmt: skip
    finally:
        monkeypatch.setattr(IdentityDirectory, "resolve_at", real)
        gw.edit_user("dora", jurisdiction=before)
    assert resp.status_code == 200, resp.text[:300]
    assert calls[0] >= 2, "the stream was not re-checked after the change"
    rid = resp.headers["x-request-id"]
    found = gw.client.get("/api/v1/audit/events", params={"case_ref": case},
                          headers=gw.headers("sam")).json()["items"]  # fmt: skip
    ends = [e for e in found if e["type"] in ("query.completed", "query.aborted")
            and e.get("request_id") == rid]  # fmt: skip
    assert [e["type"] for e in ends] == ["query.aborted"], [
        (e["type"], e.get("rows"), e["details"]) for e in ends]  # fmt: skip
    assert ends[0]["details"]["reason"] == "forbidden", ends[0]["details"]
