"""Red team 65, as the administrator who changes the policy while an analyst's download
is in flight (ATTACKS.md: freshness, "a running job").

The embedded engine reloads its Rego modules when a file changes (``EmbeddedPDP``, at
most once a second), an OPA server when a new bundle is loaded (``policy_version``), and
a query that starts afterwards is decided by the new policy. A stream in flight is
decided again by ``Broker.check_still_allowed`` — but only when the catalog's
generation moved since its last check, and a policy change writes nothing to the
catalog: dora's 200,000-row download went on to its last row under the policy the
administrator had just withdrawn, on record as ``completed``.

Attack: the gateway decides with Rego modules in a directory the administrator edits;
dora starts a download and reads a little; the administrator's new policy refuses
analysts (``analysts_only``); she reads the rest.

Expected: the rest is refused and the end is on record as aborted (``forbidden``). On
the embedded default and on PostgreSQL (the lifecycle tests' live gateway).
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from policies.bundle import DEFAULT_REGO_DIR
from policies.cache import CachedPDP
from policies.pdp import EmbeddedPDP
from tests.attacks.live_gateway import GOVERN_S, Live, RawStream, ended, wait_for
from tests.attacks.test_redteam4_analyst_access_mid_stream import _assert_aborted, live

__all__ = ["live"]  # the shared module fixture
ANALYSTS = 'errors["analysts_only"] := {} if not "analyst" in roles'
NO_ANALYSTS = 'errors["analysts_only"] := {} if "analyst" in roles'


@pytest.fixture
def policy(live: Live, tmp_path: Path) -> Iterator[Path]:
    """The gateway's policy read from a copy the administrator edits (reloaded as the
    installed modules are, when a file changes)."""
    rego = tmp_path / "rego"
    shutil.copytree(DEFAULT_REGO_DIR, rego)
    pdp = live.app.state.broker.pdp
    assert isinstance(pdp, CachedPDP)
    before = pdp.inner
    pdp.inner = EmbeddedPDP(rego, check_interval_s=0.05)
    try:
        yield rego / "decision.rego"
    finally:
        pdp.inner = before


def rewrite_policy(live: Live, policy: Path, old: str, new: str) -> None:
    """The administrator replaces ``old`` (which the policy holds) by ``new``; returns once
    the gateway has loaded the new policy."""
    text = policy.read_text(encoding="utf-8")
    assert old in text
    pdp = live.app.state.broker.pdp
    version = pdp.policy_version
    policy.write_text(text.replace(old, new), encoding="utf-8")
    wait_for(lambda: pdp.policy_version != version, "the new policy to be loaded")


def test_a_withdrawn_policy_stops_a_query_in_flight(live: Live, policy: Path) -> None:
    stream = RawStream(live, "dora", {"limit": 200_000})
    assert stream.status == 200, stream.body[:300]
    stream.read(200_000)
    rewrite_policy(live, policy, ANALYSTS, NO_ANALYSTS)
    time.sleep(2 * GOVERN_S)  # past the re-check interval
    stream.read_to_the_end()
    _assert_aborted(ended(live, stream.request_id), "query")
