"""A command's stdout carries its output only: log lines go to stderr.

``TOKEN=$(sluice token alice)`` is how the README uses the token. With a witness that
does not answer, the audit log's warnings (``audit_witness_send_failed``) were printed
by structlog's default logger — to stdout — before the token, so the variable held
four log lines and a token, and every request made with it was refused.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

SLUICE = str(Path(sys.executable).with_name("sluice"))


@pytest.mark.parametrize("command", [["token", "bench"], ["users", "list"]])
def test_log_lines_leave_stdout_to_the_output(tmp_path: Path, command: list[str]) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SLUICE_")}
    env["SLUICE_HOME"] = str(tmp_path / "home")
    added = subprocess.run([SLUICE, "users", "add", "bench", "--name", "Bench"], env=env,
                           capture_output=True, text=True, check=False)  # fmt: skip
    assert added.returncode == 0, added.stderr
    env["SLUICE_WITNESSES"] = "http://127.0.0.1:9/"  # nothing listens: warnings are logged
    out = subprocess.run([SLUICE, *command], env=env, capture_output=True, text=True,
                         check=False, timeout=120)  # fmt: skip
    assert out.returncode == 0, out.stderr
    assert "audit_witness_send_failed" not in out.stdout, out.stdout
    if command[0] == "token":
        assert out.stdout.count("\n") == 1 and out.stdout.count(".") == 2, out.stdout
        assert "audit_witness_send_failed" in out.stderr  # logged, where logs belong
