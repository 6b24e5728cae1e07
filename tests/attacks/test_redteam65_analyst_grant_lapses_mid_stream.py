"""Red team 65, as an analyst whose grant lapses while her download is in flight
(ATTACKS.md: freshness, "a running job").

A stream in flight is governed by ``Broker.check_still_allowed`` every
``stream_govern_every_s``: the decision is taken again with the grants as they are.
But nothing was decided again while the catalog's generation stood (``seen``), and a
grant's expiry writes nothing: the generation does not move when a grant lapses, so
dora's download (and her comparison) that unmasked the note under the grant went on in
clear to its last row after the grant had expired, on record as ``completed``. A
revocation stops it (red team 4); an expiry, which the policy compares with ``now``
(``input.now``), did not.

Attack: carl approves dora's one-day grant of the note in clear; she starts a 200,000-row
download (and a comparison) and reads a little; then the days pass (the broker's clock
moved two days on: an expiry, not a write) and she reads the rest.

Expected: the rest is refused and the end is on record as aborted (``forbidden``). On
the embedded default and on PostgreSQL (the lifecycle tests' live gateway).
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from datetime import datetime, timedelta, tzinfo

import pytest

from gateway.enforcement.query import broker as broker_module
from tests.attacks.live_gateway import GOVERN_S, Live, RawPost, RawStream, ended
from tests.attacks.test_redteam4_analyst_access_mid_stream import (
    _assert_aborted,
    _granted,
    _revoke,
    live,
)
from tests.attacks.test_redteam4_analyst_comparison_mid_stream import (
    COMPARISON,
    _comparison_ended,
)

__all__ = ["live"]  # the shared module fixture


class _TwoDaysOn(datetime):
    """The broker's clock two days on: a one-day grant approved now has lapsed."""

    @classmethod
    def now(cls, tz: tzinfo | None = None) -> datetime:  # type: ignore[override]
        return datetime.now(tz) + timedelta(days=2)


@pytest.fixture
def grant(live: Live) -> Iterator[str]:
    granted = _granted(live)
    yield granted
    _revoke(live, granted)


def _lapse(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(broker_module, "datetime", _TwoDaysOn)
    time.sleep(2 * GOVERN_S)  # past the re-check interval


def test_a_lapsed_grant_stops_a_query_in_flight(
    live: Live, grant: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    stream = RawStream(live, "dora", {"limit": 200_000})
    assert stream.status == 200, stream.body[:300]
    stream.read(200_000)
    assert b"of a result larger" in stream.body  # the note in clear: the grant at work
    _lapse(monkeypatch)
    stream.read_to_the_end()
    _assert_aborted(ended(live, stream.request_id), "query")


def test_a_lapsed_grant_stops_a_comparison_in_flight(
    live: Live, grant: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    stream = RawPost(live, "/api/v1/comparisons?format=ndjson", json.dumps(COMPARISON).encode(),
                     {"Authorization": f"Bearer {live.gw.token('dora')}",
                      "Content-Type": "application/json"})  # fmt: skip
    assert stream.status == 200, stream.body[:300]
    stream.read(200_000)
    assert b"of a result larger" in stream.body
    _lapse(monkeypatch)
    stream.read_to_the_end()
    _assert_aborted(_comparison_ended(live, stream.headers["x-request-id"]), "comparison")
