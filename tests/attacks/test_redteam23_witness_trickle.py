"""Red team 23, as one witness (another deployment's gateway, or whoever answers its
URL): answer a byte at a time.

The audit monitor compares the chain with the local witness file, then asks each
witness for its newest checkpoint, then walks the chain, on one thread, once a period.
httpx's timeout bounds each read of the witness's answer, not the answer: a witness
that trickled it held the monitor for as long as it liked, so an insider who cut the
trail's tail meanwhile was not sealed on — not by the local witness file, not by the
other witnesses, not by the walk. One bad witness of several switched them all off.

Expected: the witness's answer is whole within the witness timeout, and an old event edited in place
seals the gateway within a few seconds, the trickling witness notwithstanding.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.attacks.deployments import KINDS, open_deployment
from tests.attacks.test_insider_audit import INTERVAL_S, _append, _insider, _until
from tests.attacks.test_redteam22_webhook_trickle import Trickle
from tests.gateway.demo_app import DemoGateway


@contextmanager
def witnessed_by(witness: Trickle, kind: str, home: Path, prefix: str) -> Iterator[DemoGateway]:
    """A deployment whose one witness is ``witness``, checkpointing and watching fast."""
    with open_deployment(kind, home, db_prefix=prefix,
                         witnesses=[witness.url.removesuffix("/hook")],
                         audit_checkpoint_seconds=INTERVAL_S,
                         audit_monitor_seconds=INTERVAL_S) as gw:  # fmt: skip
        yield gw
    witness.listener.close()


@pytest.fixture(scope="module", params=KINDS)
def world(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
          ) -> Iterator[tuple[DemoGateway, Trickle]]:  # fmt: skip
    witness, kind = Trickle(), request.param
    home: Path = tmp_path_factory.mktemp(f"rt23-witness-{kind}")
    with witnessed_by(witness, kind, home, "redteam23_witness") as gw:
        yield gw, witness


def test_a_trickling_witness_does_not_hold_the_monitor(
    world: tuple[DemoGateway, Trickle],
) -> None:
    gw, witness = world
    _append(gw, 60)
    _until(lambda: witness.pushes >= 2, "the witness is written to and asked")
    # an old event edited in place: only the monitor's walk of the chain finds it (the
    # writer checks the head it appends to, not the rows below)
    _insider(gw, "UPDATE audit_events SET body = body || ' ' WHERE seq = 3")
    started = time.monotonic()
    while not gw.services.audit.seal.sealed:
        assert time.monotonic() - started < 15, "not sealed while the witness trickles"
        time.sleep(0.1)
    assert "3" in str(gw.services.audit.seal.reason), gw.services.audit.seal.reason
