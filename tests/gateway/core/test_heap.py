"""A served app freezes its start-up heap and collects the young generation less
often (``gateway.core.heap``), once per process; each case runs in a fresh interpreter
(the collector's settings are the process's)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]

SETTLE_TWICE = """
import gc, json
from gateway.core.heap import THRESHOLDS, settle_heap
before = gc.get_threshold()
first, second = settle_heap(), settle_heap()
print(json.dumps({"before": before, "first": first, "second": second,
                  "frozen": gc.get_freeze_count(), "after": gc.get_threshold(),
                  "want": THRESHOLDS}))
"""

SERVED_APP = """
import gc, json, sys
from pathlib import Path
from fastapi.testclient import TestClient
from tests.gateway.demo_app import demo_gateway
with demo_gateway(Path(sys.argv[1])) as gw:
    untouched = gc.get_freeze_count()
    with TestClient(gw.client.app) as client:  # runs the app's start-up
        ok = client.get("/healthz").status_code
        print(json.dumps({"untouched": untouched, "frozen": gc.get_freeze_count(),
                          "after": gc.get_threshold(), "ok": ok}))
"""


def _run(code: str, *args: str) -> dict[str, object]:
    done = subprocess.run([sys.executable, "-c", code, *args], cwd=ROOT, capture_output=True,
                          text=True, timeout=300, check=True)  # fmt: skip
    result: dict[str, object] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def test_settle_heap_freezes_once_and_raises_the_young_threshold() -> None:
    got = _run(SETTLE_TWICE)
    assert got["first"] is True and got["second"] is False
    assert isinstance(got["frozen"], int) and got["frozen"] > 1000
    assert got["after"] == got["want"] != got["before"]


def test_the_apps_start_up_settles_the_heap(tmp_path: Path) -> None:
    got = _run(SERVED_APP, str(tmp_path))
    assert got["untouched"] == 0  # building an app alone changes nothing
    assert isinstance(got["frozen"], int) and got["frozen"] > 10_000
    assert got["after"] == [20_000, 20, 20] and got["ok"] == 200
