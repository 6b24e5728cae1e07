"""The attacks of a gateway's user on root's CLI need root: to run the CLI as root and
to give files to another user. They failed to prove anything when skipped, so they fail
instead: `make test` runs as root (it installs Chromium and LibreOffice with apt-get),
as CI does, and a run without root says why these tests cannot hold.
"""

from __future__ import annotations

import os

import pytest

NEEDS_ROOT = (
    "root's CLI beside a gateway's user: this attack needs root (run `make test` as root, "
    "as CI does)"
)


def require_root() -> None:
    """Fails the test, never skips it, without root (``as_root`` in tests/conftest.py)."""
    if os.geteuid() != 0:
        pytest.fail(NEEDS_ROOT)


root_only = pytest.mark.usefixtures("as_root")
