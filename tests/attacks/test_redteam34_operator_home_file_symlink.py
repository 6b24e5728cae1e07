"""Red team 34, as the gateway's own user on its host (owner of ``SLUICE_HOME``, e.g. a
compromised gateway) against the operator who runs the CLI as root.

Rule: the append-only files the gateway keeps in its home — the local witness file of
signed checkpoints (``audit-witness.jsonl``), the seal file, the alert states and
outbox, the witness receipts — and the lock files beside them are the home's own
regular files. Red team 30 closed the row lock folder; these were opened by path,
following links (``audit.jsonl.append_line``: ``O_CREAT | O_APPEND``, no ``O_NOFOLLOW``).

Attack: the home's owner replaces ``audit-witness.jsonl`` with a symlink into a folder of
root's (a stand-in for ``/etc/sudoers.d`` — where a file that does not parse stops
``sudo`` altogether — or ``/etc/nologin``, which stops every other user's login), or
with a symlink to a file of root's that exists. The operator then runs ``sluice users
add`` as root: the command appends its events and signs a checkpoint, which it appended
through the link — root created the file of the attacker's choosing (0600, owned by
root) or appended a JSON line to root's own file.

Expected: nothing outside the home is created or changed; the link is not followed
(the witness line is refused, logged as ``audit_witness_failed``, as any failed witness
write), on the embedded default and on PostgreSQL (both keep the witness file in the
home).

The folders too (a finding of its own): the home's owner replaces ``keys/audit`` with a
link to a folder of root's; any CLI command that opens the trail loads the signing keys
from it, finds none, and made a new one — ``ed25519-….pem`` and ``current`` (a line
``sudo`` cannot parse, in a name without a dot) written by root into root's folder. A
link below the home that another user made is never followed; one root or the
process's own user made (an operator's) still is.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from audit.witness import witness_path
from tests.attacks.deployments import KINDS, open_deployment
from tests.attacks.redteam27 import run_cli
from tests.gateway.demo_app import DemoGateway
from tests.root_only import root_only

GATEWAY_UID = 65534  # the gateway's own user (nobody)
ROOTS_FILE = b"root ALL=(ALL:ALL) ALL\n"

pytestmark = root_only


@pytest.fixture(scope="module", params=KINDS)
def gw(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
       ) -> Iterator[DemoGateway]:  # fmt: skip
    home = tmp_path_factory.mktemp(f"red34-home-{request.param}")
    with open_deployment(request.param, home, db_prefix="sluice_red34_home") as gateway:
        yield gateway


def _plant(gw: DemoGateway, target: Path) -> Path:
    """The home's owner swaps the witness file for a link to ``target``."""
    link = witness_path(gw.settings.home)
    link.unlink(missing_ok=True)
    link.symlink_to(target)
    os.lchown(link, GATEWAY_UID, GATEWAY_UID)
    return link


@pytest.mark.parametrize("how", ["dangling", "existing"])
def test_root_cli_follows_no_link_out_of_the_home(
    gw: DemoGateway, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, how: str
) -> None:
    roots = tmp_path / "sudoers.d"  # root's own folder
    roots.mkdir(mode=0o755)
    target = roots / "zz-sluice"
    if how == "existing":
        target.write_bytes(ROOTS_FILE)
        target.chmod(0o440)
    link = _plant(gw, target)
    try:
        result = run_cli(gw, monkeypatch, "users", "add", f"yan{how}", "--name", "Yan",
                         "--clearance", "L1", "--jurisdiction", "430121")  # fmt: skip
        assert result.exit_code == 0, result.output
        if how == "dangling":
            assert not target.exists(), f"root made {target}: {target.read_bytes()[:200]!r}"
        else:
            assert target.read_bytes() == ROOTS_FILE, "root appended to its own file"
        assert sorted(os.listdir(roots)) == ([] if how == "dangling" else ["zz-sluice"])
    finally:
        link.unlink(missing_ok=True)


def test_root_cli_follows_no_folder_link_in_the_home(
    gw: DemoGateway, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    roots = tmp_path / "sudoers.d"  # root's own folder
    roots.mkdir(mode=0o755)
    folder = gw.settings.home / "keys" / "audit"
    kept = tmp_path / "audit-keys"
    shutil.move(folder, kept)
    folder.symlink_to(roots, target_is_directory=True)
    os.lchown(folder, GATEWAY_UID, GATEWAY_UID)
    os.chown(folder.parent, GATEWAY_UID, GATEWAY_UID)  # the home is the gateway user's
    try:
        run_cli(gw, monkeypatch, "users", "add", "yanfolder", "--name", "Yan",
                "--clearance", "L1", "--jurisdiction", "430121")  # fmt: skip
        assert sorted(os.listdir(roots)) == [], "root wrote keys into the folder the link named"
    finally:
        os.chown(folder.parent, 0, 0)
        folder.unlink()
        shutil.move(kept, folder)


def test_a_link_root_made_is_still_followed(
    gw: DemoGateway, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """An operator's own link (root's) is the operator's choice: the keys live there."""
    folder = gw.settings.home / "keys" / "audit"
    moved = tmp_path / "audit-keys"
    shutil.move(folder, moved)
    folder.symlink_to(moved, target_is_directory=True)
    try:
        result = run_cli(gw, monkeypatch, "users", "add", "yanroot", "--name", "Yan",
                         "--clearance", "L1", "--jurisdiction", "430121")  # fmt: skip
        assert result.exit_code == 0, result.output
    finally:
        folder.unlink()
        shutil.move(moved, folder)
