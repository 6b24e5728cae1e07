"""A ``sluice`` command run with its standard output on a pseudo-terminal, as an
operator, an officer or an analyst runs it: what it wrote there (red teams 59 and 61
read it for control characters a hostile value would have the terminal run)."""

from __future__ import annotations

import os
import pty
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def on_a_terminal(args: list[str], env: dict[str, str], timeout: float) -> bytes:
    """``python -m gateway.cli.main ARGS`` on a pseudo-terminal; it must succeed."""
    main, secondary = pty.openpty()
    proc = subprocess.Popen([sys.executable, "-m", "gateway.cli.main", *args], env=env,
                            stdout=secondary, stderr=subprocess.PIPE, cwd=ROOT)  # fmt: skip
    os.close(secondary)
    out = b""
    while True:
        try:
            chunk = os.read(main, 65536)
        except OSError:  # the terminal's other end closed: all was read
            break
        if not chunk:
            break
        out += chunk
    os.close(main)
    _, err = proc.communicate(timeout=timeout)
    assert proc.returncode == 0, err.decode()
    return out
