"""The README's Python snippet (issue 16) runs as printed: pandas and DuckDB read the
Arrow stream of a live gateway (a real uvicorn process over the demo)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

from tests.gateway.cli.client_gateway import Served, served

__all__ = ["served"]

README = Path(__file__).resolve().parents[3] / "README.md"
MARKER = "<!-- tested: tests/gateway/cli/test_client_readme.py -->"


def snippet() -> str:
    text = README.read_text(encoding="utf-8")
    found = re.search(re.escape(MARKER) + r"\n```python\n(.*?)\n```", text, re.S)
    assert found, f"README.md has no python block after {MARKER}"
    return found[1]


def test_the_readme_snippet_reads_the_arrow_stream(served: Served, tmp_path: Path) -> None:
    script = tmp_path / "snippet.py"
    script.write_text(snippet(), encoding="utf-8")
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("SLUICE_")},
           **served.env("dora")}  # fmt: skip
    run = subprocess.run([sys.executable, str(script)], env=env, cwd=tmp_path,
                         capture_output=True, text=True, timeout=120)  # fmt: skip
    assert run.returncode == 0, run.stderr
    # pandas' table, then DuckDB's: both name the columns and show county codes
    assert "count" in run.stdout and "sum" in run.stdout
    assert "households" in run.stdout and "total" in run.stdout
    assert re.search(r"\b43\d{4}\b", run.stdout), run.stdout
