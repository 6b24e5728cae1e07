"""Red team 35's left row, as the gateway's own user on its host (owner of
``SLUICE_HOME``, e.g. a compromised gateway), against the operator who runs the CLI as
root — the key files after the home's other files.

Rule: root's CLI over the home reads the home's own regular files only, never through a
link, never a FIFO or a device (red team 35: ``read_own`` for the JSON-lines files and
the small records).

Attack: the keys' readers still went by path, following links: the audit signing keys
(``keys/audit/ed25519-*.pem``) and their ``current`` pointer, the masking secret the
event MAC key is derived from (``keys/mask.secret``, ``read_private``), the master keys
of the secret store and their pointer (``keys/master``), the issuer's signing key
(``keys/issuer/signing-key.pem``). The home's owner puts in place of one a FIFO of
theirs, a link to ``/dev/zero`` or a link to a file of root's (mode 0600, which
``read_private``'s mode check let through); the operator runs ``sluice users add``,
``sluice keys rotate`` or ``sluice token`` as root: the command waited on the FIFO for
as long as no one wrote to it, read ``/dev/zero`` into memory until something was
killed, or read root's file as the key.

Expected: the command ends at once with a message naming the file it refused; nothing
read through the link, on the embedded default and on PostgreSQL.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.attacks.redteam27 import run_cli_bounded
from tests.attacks.test_redteam34_operator_home_file_symlink import GATEWAY_UID, gw  # noqa: F401
from tests.gateway.demo_app import DemoGateway
from tests.root_only import root_only

pytestmark = root_only
BOUND_S = 20.0
ADD = ("users", "add", "--name", "Yan", "--clearance", "L1", "--jurisdiction", "430121")


def _master_key(gateway: DemoGateway) -> str:
    """A master key file with a data key under it (as a source's password makes one):
    ``keys rotate`` then reads it to re-wrap the data key."""
    keyring = gateway.services.keyring
    keyring.encrypt("a partner's password")
    return f"keys/master/{keyring.current_master_kid}.key"


def _master_pointer(gateway: DemoGateway) -> str:
    _master_key(gateway)
    return "keys/master/current"


def _audit_key(gateway: DemoGateway) -> str:
    """The active signing key (``current`` names it)."""
    kid = (gateway.settings.home / "keys" / "audit" / "current").read_text().strip()
    return f"keys/audit/{kid}.pem"


# the key file (relative to the home), and the command that reads it
FILES: dict[str, tuple[Any, tuple[str, ...]]] = {
    "audit-current": (lambda _: "keys/audit/current", ADD),
    "audit-key": (_audit_key, ADD),
    "mask-secret": (lambda _: "keys/mask.secret", ADD),
    "master-current": (_master_pointer, ("keys", "rotate")),
    "master-key": (_master_key, ("keys", "rotate")),
    "issuer-key": (lambda _: "keys/issuer/signing-key.pem", ("token", "alice")),
    # the home's small records read beside the keys at every start (the gateway's name
    # at its witnesses; the row seal families the home remembers adopted)
    "gateway-id": (lambda _: "gateway-id", ADD),
    "row-seals-adopted": (lambda _: "keys/row-seals.adopted", ADD),
}


@pytest.fixture(params=["fifo", "zero", "roots"])
def planted(
    request: pytest.FixtureRequest,
    gw: DemoGateway,  # noqa: F811 (the imported fixture)
    tmp_path: Path,
) -> Iterator[tuple[Path, str]]:
    """The home's owner swaps one key file for a FIFO of theirs, a link to /dev/zero or
    a link to a copy of it in a folder of root's (0600, root's)."""
    how: str = request.param
    which = request.node.callspec.params["which"]
    path = gw.settings.home / FILES[which][0](gw)
    kept = tmp_path / "kept"
    shutil.move(path, kept)
    if how == "fifo":
        os.mkfifo(path, 0o600)
        os.chown(path, GATEWAY_UID, GATEWAY_UID)
    else:
        target = Path("/dev/zero")
        if how == "roots":
            roots = tmp_path / "root-only"
            roots.mkdir(mode=0o700)
            target = roots / path.name
            shutil.copy(kept, target)
            target.chmod(0o600)
        path.symlink_to(target)
        os.lchown(path, GATEWAY_UID, GATEWAY_UID)
    try:
        yield path, how
    finally:
        path.unlink()
        shutil.move(kept, path)


@pytest.mark.parametrize("which", sorted(FILES))
def test_root_cli_reads_no_key_file_through_a_link_or_a_fifo(
    gw: DemoGateway,  # noqa: F811 (the imported fixture)
    planted: tuple[Path, str],
    monkeypatch: pytest.MonkeyPatch,
    which: str,
) -> None:
    path, how = planted
    args = FILES[which][1]
    if args[:2] == ("users", "add"):
        args = (*args[:2], f"yan{which}{how}".replace("-", ""), *args[2:])
    hung, result = run_cli_bounded(gw, monkeypatch, path, *args, bound_s=BOUND_S)
    assert not hung, f"root's CLI waited {BOUND_S:g} s on the FIFO in place of {path}"
    assert result.exit_code != 0, f"root's CLI read {path} ({how}): {result.output}"
    assert isinstance(result.exception, SystemExit), repr(result.exception)  # no traceback
    assert f"{path} is a link or not a file" in result.output, result.output
