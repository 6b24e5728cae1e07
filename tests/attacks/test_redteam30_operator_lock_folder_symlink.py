"""Red team 30, as the gateway's own user on its host (a database insider who owns the
embedded catalog) against the operator who runs the CLI as root.

Rule: the row locks' files on SQLite (``gateway.stewardship.row_lock_files``) live in
``<database>.row-locks/`` beside the database; root's CLI makes them the database
owner's so the gateway can still open them.

Attack: the database owner (the gateway's user, who may write beside its own database)
replaces the lock folder with a symlink to a folder of root's (here a stand-in for
``/etc``), or plants each stripe file as a dangling symlink into it. The operator then
runs ``sluice users add`` as root, which takes a row lock: the CLI followed the links,
created the stripe file in root's folder and ``chown``-ed it — and the folder itself —
to the database owner. The gateway's user then owns a file (or folder) of its choice
that root reads: root for the price of one symlink.

Expected: the lock folder and its stripe files are opened without following links and
must be the database owner's (or this process's user's) real folder and regular files;
anything else is refused, and nothing outside the folder is created or given away.

On the embedded SQLite default only (PostgreSQL takes advisory locks, no files).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import make_url

from gateway.stewardship import row_lock_files
from tests.attacks.redteam27 import run_cli
from tests.gateway.demo_app import DemoGateway, demo_gateway
from tests.root_only import root_only

GATEWAY_UID = 65534  # the gateway's own user (nobody)

pytestmark = root_only


@pytest.fixture(scope="module")
def gw(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DemoGateway]:
    with demo_gateway(tmp_path_factory.mktemp("red30-locks")) as gateway:
        yield gateway


def _plant(gw: DemoGateway, victim: Path, how: str) -> tuple[Path, Path]:
    url = make_url(gw.settings.resolved_database_url)
    folder = Path(str(row_lock_files.lock_dir(url)))
    database = Path(folder.as_posix().removesuffix(row_lock_files.SUFFIX))
    shutil.rmtree(folder, ignore_errors=True)
    if how == "folder":
        folder.symlink_to(victim, target_is_directory=True)
    else:
        folder.mkdir(mode=0o700)
        for stripe in range(64):
            (folder / f"{stripe:02d}").symlink_to(victim / f"{stripe:02d}")
        os.chown(folder, GATEWAY_UID, GATEWAY_UID)
    os.chown(database, GATEWAY_UID, GATEWAY_UID)
    return folder, database


@pytest.mark.parametrize("how", ["folder", "stripes"])
def test_root_cli_follows_no_link_out_of_the_lock_folder(
    gw: DemoGateway, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, how: str
) -> None:
    victim = tmp_path / "etc"  # root's own folder
    victim.mkdir(mode=0o755)
    folder, database = _plant(gw, victim, how)
    try:
        run_cli(gw, monkeypatch, "users", "add", f"yan{how}", "--name", "Yan",
                "--clearance", "L1", "--jurisdiction", "430121")  # fmt: skip
        assert os.stat(victim).st_uid == 0, "root's folder given to the gateway's user"
        assert sorted(os.listdir(victim)) == [], "a file made in root's folder"
    finally:
        if folder.is_symlink():
            folder.unlink()
        else:
            shutil.rmtree(folder, ignore_errors=True)
        os.chown(database, 0, 0)
