"""Red team 23: a rule process that is stuck, shown as one that runs.

The rule process's beat (``alerts-runner.json``, read by ``sluice doctor`` and
``/metrics``) was written by its head watch thread every 5 s whatever the rule runner
did. Anyone on the host with the service account (or a home on a file system that
hangs) holds the alert state file's lock: the runner's next new alert waits on it for
ever, every later evaluation with it, so nothing is opened or pushed — alice's six
refusals in a row stayed off every channel — while the beat stayed seconds old, the
doctor said ``ok`` and ``/metrics`` said the rules were seen a moment ago. Killing the
process shows (its beat ages); stalling it did not.
"""

from __future__ import annotations

import fcntl
import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from audit.alert_watch import BEAT_EVERY_S, BEAT_NAME
from gateway.cli.doctor.home import check_alert_rules
from gateway.cli.doctor.report import Context, Status
from gateway.core.settings import load_settings
from tests import live_http
from tests.gateway.demo_app import demo_gateway
from tests.ops.processes import Served, environment, free_port

PORT = free_port()
DIBAO = "civil.dibao_recipients"
STALE_S = 30.0  # the doctor's bound (``gateway.cli.doctor.home.BEAT_STALE_S``)
SLACK_S = 4.0  # how late after the last denial's answer the stuck evaluation may start


@pytest.fixture
def demo_home(tmp_path: Path) -> Iterator[tuple[Path, dict[str, str]]]:
    home = tmp_path / "home"
    with demo_gateway(home, alert_runner="external") as gw:
        tokens = {who: gw.token(who, ttl=900) for who in ("alice", "sam")}
    yield home, tokens


def _serve(home: Path, tmp_path: Path) -> Served:
    log = tmp_path / "gw.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "gateway.cli.main", "serve", "--port", str(PORT)],
            env=environment({"SLUICE_HOME": str(home), "SLUICE_ALERT_EVAL_SECONDS": "0.5"}),
            stdout=out, stderr=subprocess.STDOUT,
        )  # fmt: skip
    return Served(name="gw", proc=proc, base=f"http://127.0.0.1:{PORT}", log=log)


def _wait(check: object, what: str, bound: float = 60.0) -> None:
    deadline = time.monotonic() + bound
    while not check():  # type: ignore[operator]
        assert time.monotonic() < deadline, what
        time.sleep(0.2)


def test_a_rule_process_stuck_on_the_state_file_lock_is_not_reported_alive(
    demo_home: tuple[Path, dict[str, str]], tmp_path: Path
) -> None:
    home, tokens = demo_home
    served = _serve(home, tmp_path)
    fd = -1
    try:
        served.wait_ready()
        _wait(lambda: (home / BEAT_NAME).exists(), "the rule process writes its beat")
        time.sleep(2)  # its first evaluation over the demo's day is done
        fd = os.open(home / "alerts-state.lock", os.O_RDWR | os.O_CREAT, 0o600)
        fcntl.flock(fd, fcntl.LOCK_EX)  # held by someone else on the host
        for _ in range(6):  # repeated_denials (threshold 5)
            resp = live_http.post(f"{served.base}/api/v1/datasets/{DIBAO}/query",
                              json={"fields": ["name"], "purpose": "marketing"},
                              headers={"Authorization": f"Bearer {tokens['alice']}"},
                              timeout=30)  # fmt: skip
            assert resp.status_code == 403, resp.text[:300]
        # the evaluation that opens the alert (and waits on the lock) starts once the
        # denials are on record, within an evaluation period (0.5 s) of the last one —
        # counted from the last answer, not from the lock: on a loaded machine the six
        # requests alone took more than a second (a clean-clone run beside a red team)
        denied = time.monotonic()
        time.sleep(BEAT_EVERY_S + 8)  # a rule process alive would have beaten meanwhile
        # the doctor as it would read the home once the stuck evaluation has waited
        # STALE_S + 1 (SLACK_S for its start after the last answer): in process with its
        # clock moved on, not waited out. A live process's beat, at most BEAT_EVERY_S old
        # now, would still pass then: it would be at most STALE_S - 3 old
        ahead = STALE_S + 1 + SLACK_S - (time.monotonic() - denied)
        doctor = check_alert_rules(Context(settings=load_settings(home=home),
                                           clock=lambda: time.time() + ahead))  # fmt: skip
        assert doctor[0].status == Status.FAIL, doctor
        scraped = live_http.get(f"{served.base}/metrics", timeout=30,
                            headers={"Authorization": f"Bearer {tokens['sam']}"}).text  # fmt: skip
        found = re.search(r"^sluice_alert_rules_seen_age_seconds (\S+)$", scraped, re.M)
        stuck_for = time.monotonic() - denied  # 13 s at least; a live beat is 5 s old at most
        assert found and float(found.group(1)) > stuck_for - SLACK_S, (found, stuck_for)
    finally:
        if fd >= 0:
            os.close(fd)
        served.stop()
