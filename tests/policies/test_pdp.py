"""The embedded PDP: rebuild on file change, cache hits and invalidation, fail closed."""

from __future__ import annotations

import shutil
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from catalog.errors import Unavailable
from policies.authoring import load_cases
from policies.bundle import DEFAULT_REGO_DIR, load_policy_set
from policies.cache import CachedPDP
from policies.decision import Decision, DecisionInput, DecisionPoint
from policies.inputs import decision_input_from_dict
from policies.opa_server import OpaServerPDP
from policies.pdp import EmbeddedPDP
from policies.pdp_builder import build_pdp

BASE = next(c for c in load_cases() if c["name"] == "analyst_l3_defaults")["input"]


@pytest.fixture
def rego_dir(tmp_path: Path) -> Path:
    target = tmp_path / "rego"
    shutil.copytree(DEFAULT_REGO_DIR, target)
    return target


def edit(rego_dir: Path, old: str, new: str) -> None:
    path = rego_dir / "decision.rego"
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new))


def make_input(**changes: Any) -> DecisionInput:
    return decision_input_from_dict({**BASE, **changes})


def test_rebuilds_when_a_rego_file_changes(rego_dir: Path) -> None:
    pdp = EmbeddedPDP(rego_dir, check_interval_s=0)
    first = pdp.decide(make_input())
    assert first.max_rows == 10000
    edit(rego_dir, '"L3": 10000', '"L3": 5000')
    second = pdp.decide(make_input())
    assert second.max_rows == 5000
    assert second.policy_version != first.policy_version
    assert second.policy_version == load_policy_set(rego_dir).version


def test_check_interval_defers_the_look_at_the_files(rego_dir: Path) -> None:
    now = [0.0]
    pdp = EmbeddedPDP(rego_dir, check_interval_s=1.0, clock=lambda: now[0])
    assert pdp.decide(make_input()).max_rows == 10000
    edit(rego_dir, '"L3": 10000', '"L3": 5000')
    now[0] = 0.5
    assert pdp.decide(make_input()).max_rows == 10000
    now[0] = 1.5
    assert pdp.decide(make_input()).max_rows == 5000


def test_a_new_module_file_is_picked_up(rego_dir: Path) -> None:
    pdp = EmbeddedPDP(rego_dir, check_interval_s=0)
    before = pdp.policy_version
    (rego_dir / "extra.rego").write_text("package sluice.extra\n\nimport rego.v1\n\nx := 1\n")
    assert pdp.policy_version != before


def test_broken_module_fails_closed_until_fixed(rego_dir: Path) -> None:
    pdp = EmbeddedPDP(rego_dir, check_interval_s=0)
    pdp.decide(make_input())
    edit(rego_dir, "default allow := false", "default allow := false\n\nbroken if {")
    with pytest.raises(Unavailable, match="policy engine unavailable: policy failed to compile"):
        pdp.decide(make_input())
    edit(rego_dir, "\n\nbroken if {", "")
    assert pdp.decide(make_input()).allow is True


def test_undefined_decision_fails_closed(rego_dir: Path) -> None:
    edit(rego_dir, "decision := {", "decision := {} if false\n\nunused := {")
    pdp = EmbeddedPDP(rego_dir, check_interval_s=0)
    with pytest.raises(Unavailable, match="undefined"):
        pdp.decide(make_input())


def test_missing_policy_directory_fails_closed(tmp_path: Path) -> None:
    pdp = EmbeddedPDP(tmp_path / "nope", check_interval_s=0)
    with pytest.raises(Unavailable):
        pdp.decide(make_input())


def test_slow_decision_counts_as_a_timeout() -> None:
    pdp = EmbeddedPDP(timeout_s=0.0)
    with pytest.raises(Unavailable, match="took"):
        pdp.decide(make_input())


class Broken(DecisionPoint):
    """A backend whose engine is down."""

    calls = 0

    @property
    def policy_version(self) -> str:
        return "v"

    def decide(self, decision_input: DecisionInput) -> Decision:
        self.calls += 1
        raise Unavailable("policy engine unavailable: down")


def test_cache_never_caches_a_failure() -> None:
    inner = Broken()
    cached = CachedPDP(inner)
    for _ in range(2):
        with pytest.raises(Unavailable):
            cached.decide(make_input())
    assert inner.calls == 2


def test_cache_hits_with_fresh_decision_ids() -> None:
    cached = CachedPDP(EmbeddedPDP())
    first = cached.decide(make_input())
    second = cached.decide(make_input(now="2025-06-01T00:30:00Z"))
    assert (cached.hits, cached.misses) == (1, 1)
    assert first.decision_id != second.decision_id
    assert first.to_dict() | {"decision_id": ""} == second.to_dict() | {"decision_id": ""}
    second.fields.clear()
    assert cached.decide(make_input()).fields  # the cache kept its own copy


def test_cache_misses_on_a_different_request_shape_or_entry() -> None:
    cached = CachedPDP(EmbeddedPDP())
    cached.decide(make_input())
    request = {**BASE["request"], "fields": ["amount"]}
    cached.decide(make_input(request=request))
    dataset = {**BASE["dataset"], "schema_version": 4}
    cached.decide(make_input(dataset=dataset))
    user = {**BASE["user"], "jurisdiction": ["1102"]}
    assert cached.decide(make_input(user=user)).row_filter == {
        "field": "region_code",
        "prefixes": ["1102"],
    }
    assert cached.misses == 4 and cached.hits == 0


def test_cache_sees_a_grant_expire() -> None:
    cached = CachedPDP(EmbeddedPDP())
    grant = {
        "id": "g1",
        "dataset": BASE["dataset"]["id"],
        "fields": ["recipient_name"],
        "action": "allow",
        "expires_at": "2025-06-01T01:00:00Z",
        "approvals": ["carl"],
        "status": "approved",
        "requester": "alice",
    }
    before = cached.decide(make_input(grants=[grant], now="2025-06-01T00:59:59Z"))
    after = cached.decide(make_input(grants=[grant], now="2025-06-01T01:00:00Z"))
    assert before.fields["recipient_name"].action == "allow"
    assert after.fields["recipient_name"].action == "mask"


def test_policy_change_invalidates_the_cache(rego_dir: Path) -> None:
    cached = CachedPDP(EmbeddedPDP(rego_dir, check_interval_s=0))
    assert cached.decide(make_input()).max_rows == 10000
    assert cached.decide(make_input()).max_rows == 10000
    edit(rego_dir, '"L3": 10000', '"L3": 7000')
    assert cached.decide(make_input()).max_rows == 7000
    assert cached.hits == 1 and cached.misses == 2


def test_build_pdp_picks_the_backend(tmp_path: Path) -> None:
    embedded = build_pdp(opa_url=None)
    assert isinstance(embedded, CachedPDP) and isinstance(embedded.inner, EmbeddedPDP)
    server = build_pdp(opa_url="http://127.0.0.1:8181")
    assert isinstance(server, CachedPDP) and isinstance(server.inner, OpaServerPDP)


def test_concurrent_decisions_match_serial_ones() -> None:
    """The gateway decides from its threadpool: one engine, many threads at once."""
    pdp = EmbeddedPDP()
    inputs = [decision_input_from_dict(c["input"]) for c in load_cases()]
    serial = [pdp.decide(i).to_dict() for i in inputs]
    with ThreadPoolExecutor(max_workers=8) as pool:
        concurrent = list(pool.map(lambda i: pdp.decide(i).to_dict(), inputs * 4))
    strip = [{k: v for k, v in d.items() if k != "decision_id"} for d in concurrent]
    assert strip == [{k: v for k, v in d.items() if k != "decision_id"} for d in serial * 4]
