"""Verification while the gateway keeps writing: a checkpoint committed and witnessed
during a verification is not evidence of tampering.

A false alarm here is not harmless: verification seals the trail on evidence, and a
sealed trail refuses every request (503) until an admin unseals it. The writer commits
a checkpoint, then appends it to the witness file; a verifier that read the database
first and the witness second saw a witnessed checkpoint its snapshot did not hold
("missing checkpoint" on SQLite, "truncated" on PostgreSQL). Seen in the schemathesis
run, where an officer's verify sealed the demo gateway mid-run.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

import audit.verify as verify_module
from audit import witness
from audit.verify import verify_database
from tests.audit.helpers import fill, open_log


def _witnessed_up_to(path: Path, seq: int, timeout_s: float = 10.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        newest = witness.latest(path)
        if newest is not None and int(newest["seq"]) >= seq:
            return
        time.sleep(0.01)
    raise AssertionError(f"no witnessed checkpoint at {seq} within {timeout_s} s")


def test_a_checkpoint_written_during_verification_is_no_evidence(
    db_url: str, sluice_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    log = open_log(db_url, sluice_home)
    try:
        fill(log, 25)
        _witnessed_up_to(log.witness_file, 20)
        original = verify_module._rows
        wrote: list[bool] = []

        def rows_then_write(store: Any, conn: Any, sql: str, params: tuple[Any, ...] = ()) -> Any:
            """The gateway goes on writing right after the verifier read the checkpoints."""
            out = original(store, conn, sql, params)
            if "FROM audit_checkpoints" in sql and not wrote:
                wrote.append(True)
                fill(log, 10)  # events 26..35: a checkpoint at 30, committed then witnessed
                _witnessed_up_to(log.witness_file, 30)
            return out

        monkeypatch.setattr(verify_module, "_rows", rows_then_write)
        outcome = verify_database(store=log.store, witness_file=log.witness_file)
        assert wrote, "the interleaving was not exercised"
        assert outcome.ok, outcome
    finally:
        log.close()
    assert verify_database(store=log.store, witness_file=log.witness_file).ok
