"""The home's keys written and created as the home's own files (``catalog.private_files``).

Red team 35's left row: ``share_mac_secret`` (the tests' and the bench's replica set-up,
as docs/deploy.md has operators copy the secret) wrote the secret with
``Path.write_bytes``, following a link in place of ``keys/mask.secret`` and writing the
deployment's secret into the file it named. And a key ``create_once`` made had two names
for a moment (the temporary one, removed after the link), which the key readers now
refuse as another file's hard link: a replica starting beside the one creating the key
would have stopped.
"""

from __future__ import annotations

import os
from pathlib import Path

from audit.signing import mac_secret_path, share_mac_secret
from catalog.private_files import create_once, read_private


def test_share_mac_secret_writes_through_no_link(tmp_path: Path) -> None:
    first, second = tmp_path / "first", tmp_path / "second"
    outside = tmp_path / "someone-elses-file"  # root's, another user's
    outside.write_bytes(b"not the gateway's\n")
    planted = mac_secret_path(second)
    planted.parent.mkdir(parents=True)
    planted.symlink_to(outside)
    share_mac_secret(second, of=first)
    assert outside.read_bytes() == b"not the gateway's\n", "the secret written through the link"
    assert not planted.is_symlink()
    assert read_private(planted) == read_private(mac_secret_path(first))


def test_a_created_key_never_has_a_second_name(tmp_path: Path) -> None:
    path = tmp_path / "keys" / "console.secret"
    seen: list[list[str]] = []

    def content() -> bytes:
        seen.append(os.listdir(path.parent))  # what a racing reader's folder holds
        return b"k" * 32

    create_once(path, content, prefix=".console-")
    assert seen == [[]], f"a temporary name beside the key: {seen}"
    assert os.stat(path).st_nlink == 1
    assert os.listdir(path.parent) == ["console.secret"]
    assert read_private(path) == b"k" * 32
