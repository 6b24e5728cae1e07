"""Red team 34, as another local user of the gateway's host, against the operator's
export of the audit trail (``sluice audit export --out FILE``).

Rule: what the trail holds — who read which entry, under which purpose and case
reference, who was looked up — is for security officers; the CLI's other files (a
query's result, ``gateway.cli.download``) are written as ``FILE.part``, created fresh
and readable by their owner only, then renamed.

Attack: the export opened ``--out`` by path with ``open("wb")``: the umask's mode (0644
under the usual 022: every local user reads the trail), the file's existing inode
truncated and written in place (a file another user made there first, e.g. at the
README's own ``/tmp/trail.jsonl``, kept theirs and open — they read the export as it
is written), and a symbolic link there followed (root's export written over the file
the link names).

Expected: the export is a new file, 0600, in place of whatever was at the path (the
other user's file never receives a byte, a link's target is untouched). On the
embedded default and on PostgreSQL.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.attacks.deployments import KINDS, open_deployment
from tests.attacks.redteam27 import run_cli
from tests.gateway.demo_app import DemoGateway

OTHER_UID = 65534  # another local user (nobody)


@pytest.fixture(scope="module", params=KINDS)
def gw(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
       ) -> Iterator[DemoGateway]:  # fmt: skip
    home = tmp_path_factory.mktemp(f"red34-export-{request.param}")
    with open_deployment(request.param, home, db_prefix="sluice_red34_export") as gateway:
        body = {"purpose": "supervision", "case_ref": "JW-2026-034", "limit": 1}
        resp = gateway.query("alice", "civil.dibao_recipients", body)
        assert resp.status_code == 200, resp.text  # a case reference on the trail
        yield gateway


def _export(gw: DemoGateway, monkeypatch: pytest.MonkeyPatch, out: Path) -> None:
    old = os.umask(0o022)
    try:
        result = run_cli(gw, monkeypatch, "audit", "export", "--out", str(out))
    finally:
        os.umask(old)
    assert result.exit_code == 0, result.output
    assert b"JW-2026-034" in out.read_bytes()


def test_the_export_is_readable_by_its_owner_only(
    gw: DemoGateway, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    out = tmp_path / "trail.jsonl"
    _export(gw, monkeypatch, out)
    assert stat.S_IMODE(out.stat().st_mode) & 0o077 == 0, oct(out.stat().st_mode)


def test_a_file_another_user_left_at_the_path_receives_nothing(
    gw: DemoGateway, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    out = tmp_path / "trail.jsonl"
    out.touch(mode=0o666)
    os.chmod(out, 0o666)
    os.chown(out, OTHER_UID, OTHER_UID)
    with out.open("rb") as held:  # the other user keeps it open and reads
        _export(gw, monkeypatch, out)
        assert held.read() == b"", "the export was written into the other user's file"
    assert out.stat().st_uid == os.geteuid()
    assert stat.S_IMODE(out.stat().st_mode) & 0o077 == 0


def test_a_link_at_the_path_is_not_followed(
    gw: DemoGateway, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    target = tmp_path / "roots-file"
    target.write_bytes(b"root's own\n")
    out = tmp_path / "trail.jsonl"
    out.symlink_to(target)
    _export(gw, monkeypatch, out)
    assert target.read_bytes() == b"root's own\n"
    assert not out.is_symlink()
