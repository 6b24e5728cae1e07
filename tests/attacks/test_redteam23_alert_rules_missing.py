"""Red team 23: alert rules that nobody runs, shown as a quiet day.

``sluice serve --alerts none`` is the deployment guide's replica set-up (a
``sluice alerts run`` unit of the operator's own per home). Since 8e4fc33 the gateway's
mode goes to its settings, not to the environment, so ``sluice doctor`` run in the very
environment of that gateway no longer knows the rules run elsewhere. With no rule
process (its unit never enabled, or stopped cleanly: a clean stop takes its beat away)
the doctor said "skip … rules in the gateway's thread" and ``/metrics`` had no series
for the rule process at all: an age threshold in the monitoring never fires. Nothing
evaluated a rule, and every check said nothing was wrong.
"""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests import live_http
from tests.gateway.demo_app import demo_gateway
from tests.ops.processes import Served, environment, sluice

PORT = 18323


@pytest.fixture
def demo_home(tmp_path: Path) -> Iterator[tuple[Path, str]]:
    home = tmp_path / "home"
    with demo_gateway(home) as gw:
        token = gw.token("sam", ttl=900)
    yield home, token


def _serve_without_rules(home: Path, tmp_path: Path) -> Served:
    log = tmp_path / "gw.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "gateway.cli.main", "serve", "--port", str(PORT),
             "--alerts", "none"],
            env=environment({"SLUICE_HOME": str(home)}), stdout=out, stderr=subprocess.STDOUT,
        )  # fmt: skip
    return Served(name="gw", proc=proc, base=f"http://127.0.0.1:{PORT}", log=log)


def test_a_gateway_whose_rules_run_elsewhere_with_no_rule_process_is_not_a_quiet_day(
    demo_home: tuple[Path, str], tmp_path: Path
) -> None:
    home, sam = demo_home
    served = _serve_without_rules(home, tmp_path)
    try:
        served.wait_ready()
        assert "not here: run `sluice alerts run`" in served.output()
        # an operator's routine command (it builds the services too) changes nothing
        assert sluice("users", "list", settings={"SLUICE_HOME": str(home)}).returncode == 0
        doctor = sluice("doctor", settings={"SLUICE_HOME": str(home)}).stdout
        line = next(x for x in doctor.splitlines() if "alert rules" in x)
        assert re.search(r"fail\s+alert rules", line, re.IGNORECASE), line
        scraped = live_http.get(f"{served.base}/metrics", timeout=30,
                            headers={"Authorization": f"Bearer {sam}"}).text  # fmt: skip
        assert re.search(r"^sluice_alert_rules_seen_age_seconds \+Inf$", scraped, re.M), [
            x for x in scraped.splitlines() if "alert_rules" in x
        ]
    finally:
        served.stop()
