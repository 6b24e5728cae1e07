"""``OpaServerPDP`` against an OPA REST API answered by the real OPA engine.

The stub (``opa_stub``) loads the bundle ``sluice policy bundle`` writes, so this also
tests the bundle. When ``SLUICE_OPA_URL`` names a real OPA server (with that bundle
loaded), every fixture runs against it too.
"""

from __future__ import annotations

import json
import os
import socket
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from catalog.errors import Unavailable
from policies.authoring import load_cases, mismatches
from policies.bundle import load_policy_set, write_bundle
from policies.cache import CachedPDP
from policies.inputs import decision_input_from_dict
from policies.opa_server import OpaServerPDP
from policies.pdp import EmbeddedPDP
from tests.policies.opa_stub import OpaStub, running_stub

CASES = load_cases()


@pytest.fixture(scope="module")
def stub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[OpaStub]:
    bundle = write_bundle(load_policy_set(), tmp_path_factory.mktemp("b") / "bundle.tar.gz")
    with running_stub(bundle) as server:
        yield server


def server_urls(stub: OpaStub) -> list[str]:
    urls = [stub.url]
    if os.environ.get("SLUICE_OPA_URL"):
        urls.append(os.environ["SLUICE_OPA_URL"])
    return urls


def test_every_fixture_through_the_server_matches_the_embedded_pdp(stub: OpaStub) -> None:
    embedded = EmbeddedPDP()
    for url in server_urls(stub):
        server = OpaServerPDP(url)
        assert server.policy_version == embedded.policy_version
        for case in CASES:
            decision_input = decision_input_from_dict(case["input"])
            remote = server.decide(decision_input).to_dict()
            local = embedded.decide(decision_input).to_dict()
            assert mismatches(remote, case["expected"]) == [], case["name"]
            assert remote | {"decision_id": ""} == local | {"decision_id": ""}, case["name"]
        server.close()


def test_policy_version_is_read_at_most_once_per_interval(stub: OpaStub) -> None:
    now = [0.0]
    server = OpaServerPDP(stub.url, version_refresh_s=1.0, clock=lambda: now[0])
    before = stub.requests
    for _ in range(5):
        assert server.policy_version == load_policy_set().version
    assert stub.requests == before + 1
    now[0] = 2.0
    server.policy_version  # noqa: B018
    assert stub.requests == before + 2
    server.close()


def test_policy_version_is_read_once_by_many_callers_at_once(stub: OpaStub) -> None:
    """Every stream in flight asks the version at its re-check (red team 66's left row
    3): when the cached one lapses, the callers that ask while it is being read again
    wait for that one read, not one HTTP call each."""
    server = OpaServerPDP(stub.url, version_refresh_s=60.0)
    before = stub.requests
    stub.delay_s = 0.3
    try:
        with ThreadPoolExecutor(8) as pool:
            versions = list(pool.map(lambda _: server.policy_version, range(8)))
    finally:
        stub.delay_s = 0.0
        server.close()
    assert set(versions) == {load_policy_set().version}
    assert stub.requests == before + 1, stub.requests - before


def test_a_failed_read_of_the_version_fails_its_waiting_callers_at_once(stub: OpaStub) -> None:
    """The callers waiting for one read share its failure, rather than each trying again
    in turn (a server that times out would hold the last of them one timeout per caller
    before it)."""
    server = OpaServerPDP(stub.url, version_refresh_s=60.0)
    before = stub.requests
    stub.delay_s, stub.fail_status = 0.3, 500

    def version(_: int) -> str:
        try:
            return server.policy_version
        except Unavailable:
            return "unavailable"

    try:
        with ThreadPoolExecutor(6) as pool:
            answers = list(pool.map(version, range(6)))
    finally:
        stub.delay_s, stub.fail_status = 0.0, None
    assert answers == ["unavailable"] * 6
    assert stub.requests == before + 1, stub.requests - before
    assert server.policy_version == load_policy_set().version  # the next asker reads again
    server.close()


def test_cached_server_decisions(stub: OpaStub) -> None:
    cached = CachedPDP(OpaServerPDP(stub.url))
    decision_input = decision_input_from_dict(CASES[0]["input"])
    first, second = cached.decide(decision_input), cached.decide(decision_input)
    assert cached.hits == 1 and first.decision_id != second.decision_id


def test_server_error_fails_closed(stub: OpaStub) -> None:
    server = OpaServerPDP(stub.url)
    stub.fail_status = 500
    try:
        with pytest.raises(Unavailable, match="policy engine unavailable"):
            server.decide(decision_input_from_dict(CASES[0]["input"]))
    finally:
        stub.fail_status = None
    server.close()


def test_timeout_fails_closed(stub: OpaStub) -> None:
    server = OpaServerPDP(stub.url, timeout_s=0.05)
    stub.delay_s = 0.3
    try:
        with pytest.raises(Unavailable, match="policy engine unavailable"):
            server.decide(decision_input_from_dict(CASES[0]["input"]))
    finally:
        stub.delay_s = 0.0
    server.close()


def test_unreachable_server_fails_closed() -> None:
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    server = OpaServerPDP(f"http://127.0.0.1:{port}", timeout_s=0.5)
    with pytest.raises(Unavailable):
        server.decide(decision_input_from_dict(CASES[0]["input"]))
    with pytest.raises(Unavailable):
        server.policy_version  # noqa: B018
    server.close()


def test_server_without_the_bundle_fails_closed(tmp_path: Path) -> None:
    other = tmp_path / "other"
    other.mkdir()
    (other / "x.rego").write_text("package other\n\nimport rego.v1\n\ny := 1\n")
    bundle = write_bundle(load_policy_set(other), tmp_path / "other.tar.gz")
    with running_stub(bundle) as empty:
        server = OpaServerPDP(empty.url)
        with pytest.raises(Unavailable, match="undefined"):
            server.decide(decision_input_from_dict(CASES[0]["input"]))
        server.close()


def test_bad_url_is_refused() -> None:
    with pytest.raises(ValueError):
        OpaServerPDP("opa:8181")


def test_duplicate_keys_from_the_server_fail_closed(stub: OpaStub) -> None:
    """A body with two ``allow`` members is refused, not read as its last one."""
    server = OpaServerPDP(stub.url)
    decision_input = decision_input_from_dict(CASES[0]["input"])
    honest = json.dumps({"result": stub.engine.eval_document(
        "sluice.decision.decision", decision_input.to_input())})  # fmt: skip
    assert server.decide(decision_input).allow is True
    for raw in (
        honest.replace('"allow": true', '"allow": false, "allow": true'),
        honest.replace('{"result": {', '{"result": {"allow": false, ', 1),
        honest[:-1] + ', "result": {}}',
    ):
        stub.raw_answer = raw.encode()
        try:
            with pytest.raises(Unavailable, match="policy engine unavailable"):
                server.decide(decision_input)
        finally:
            stub.raw_answer = None
    server.close()


def test_a_malformed_server_decision_fails_closed(stub: OpaStub) -> None:
    server = OpaServerPDP(stub.url)
    decision_input = decision_input_from_dict(CASES[0]["input"])
    result = stub.engine.eval_document("sluice.decision.decision", decision_input.to_input())
    stub.raw_answer = json.dumps({"result": {**result, "max_rows": "all"}}).encode()
    try:
        with pytest.raises(Unavailable, match="malformed decision") as caught:
            server.decide(decision_input)
        assert caught.value.details["problem"] == "malformed_decision"
    finally:
        stub.raw_answer = None
    server.close()
