"""Every ``sluice`` command that needs the database says in one line which database did
not answer — host and port, never the URL's password — and exits non-zero: no
traceback (red team 21 left the commands other than ``rebind`` printing one)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.ops.processes import sluice

PASSWORD = "s3cret-not-printed"
DOWN = f"postgresql://postgres:{PASSWORD}@127.0.0.1:1/sluice"  # nothing listens on port 1


@pytest.mark.parametrize(
    "args",
    [("users", "list"), ("catalog", "search", "低保"), ("audit", "verify"), ("token", "alice"),
     ("sources", "list", "--as", "carl")],
    ids=lambda a: "-".join(a[:2]),
)  # fmt: skip
def test_a_command_with_its_database_down_says_so_in_one_line(
    args: tuple[str, ...], tmp_path: Path
) -> None:
    done = sluice(*args, settings={"SLUICE_HOME": str(tmp_path / "home"),
                                   "SLUICE_DATABASE_URL": DOWN})  # fmt: skip
    out = done.stdout + done.stderr
    assert done.returncode != 0, out
    assert "Traceback" not in out, out
    assert "database unavailable" in out and '"127.0.0.1", port 1' in out, out
    assert PASSWORD not in out
