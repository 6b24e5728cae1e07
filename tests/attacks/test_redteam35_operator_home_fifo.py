"""Red team 35, as the gateway's own user on its host (owner of ``SLUICE_HOME``, e.g. a
compromised gateway), against the operator who runs the CLI as root — the readers
after red team 34's writers.

Rule: root's CLI over the home reads and writes the home's own regular files only
(red team 34: ``open_own`` for every append, ``private_dir`` for every folder).

Attack: the files were refused as links when appended to, but read by path:
``audit.jsonl.read_objects`` (the local witness file, the seal file, the alert states
and outbox, a witness's book), ``listening.json`` (``sluice doctor``), the alert mode
and beat files — ``Path.read_bytes()``, following a link and opening whatever is
there. The home's owner makes ``audit-witness.jsonl`` a FIFO (or a link to one, or to
``/dev/zero``); the operator runs ``sluice users add`` as root, which reads the witness
file as it opens the trail: the command hung in ``open`` for as long as the FIFO had no
writer (with ``/dev/zero``, read memory until the kernel killed something).

Expected: the command ends — the FIFO is refused, not opened for a read that waits —
on the embedded default and on PostgreSQL.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from audit.witness import witness_path
from tests.attacks.redteam27 import run_cli_bounded
from tests.attacks.test_redteam34_operator_home_file_symlink import GATEWAY_UID, gw  # noqa: F401
from tests.gateway.demo_app import DemoGateway
from tests.root_only import root_only

pytestmark = root_only
BOUND_S = 20.0


@pytest.fixture
def fifo(gw: DemoGateway) -> Iterator[Path]:  # noqa: F811 (the imported fixture)
    """The home's owner swaps the witness file for a FIFO of theirs."""
    path = witness_path(gw.settings.home)
    kept = path.with_name("kept-witness")
    if path.exists():
        path.rename(kept)
    os.mkfifo(path, 0o600)
    os.chown(path, GATEWAY_UID, GATEWAY_UID)
    try:
        yield path
    finally:
        path.unlink()
        if kept.exists():
            kept.rename(path)


def test_root_cli_does_not_wait_on_a_fifo_in_the_home(
    gw: DemoGateway,  # noqa: F811 (the imported fixture)
    fifo: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    hung, result = run_cli_bounded(gw, monkeypatch, fifo, "users", "add", "yanfifo", "--name",
                                   "Yan", "--clearance", "L1", "--jurisdiction", "430121",
                                   bound_s=BOUND_S)  # fmt: skip
    assert not hung, f"root's CLI waited {BOUND_S:g} s on the FIFO the home's owner made"
    assert result is not None, "the command ended"
