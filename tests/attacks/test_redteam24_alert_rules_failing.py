"""Red team 24: a rule process whose every evaluation fails, shown as one that runs.

Red team 23 made the rule process's beat (``alerts-runner.json``, read by ``sluice
doctor`` and ``/metrics``) age while an evaluation is stuck, and left one that *fails*
on every run: the head watch kept writing "seen now" between the failures. Anyone on
the host with the service account (a restore, a copy, a full or read-only file system
does the same) puts a directory where the alert state file was: every evaluation then
fails (``alert_evaluation_failed`` in the log, nothing else), no alert is opened or
pushed — alice's six refusals in a row stay off every channel — and the doctor said
``ok … seen 0 s ago``.

Now the beat carries the start of the first of the failing evaluations while they
keep failing (``AlertRunner.failing_since``), so a failing rule process ages as a
stuck or a dead one does, and the doctor says its evaluations fail.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

import audit.alert_watch as alert_watch
from audit.alert_state import STATE_NAME
from audit.alert_watch import HeadWatch, TrailView, beat_age_s, read_beat
from audit.seal import SealStore
from gateway.cli.doctor.home import BEAT_STALE_S, check_alert_rules
from gateway.cli.doctor.report import Context, Status
from gateway.wiring.alerts import _runner
from tests.attacks.deployments import KINDS, open_deployment
from tests.gateway.demo_app import DemoGateway

DIBAO = "civil.dibao_recipients"


@pytest.fixture(params=KINDS)
def external(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[DemoGateway]:
    """A gateway whose rules run in a rule process (here: its objects, in this one)."""
    with open_deployment(request.param, tmp_path / "home", db_prefix="sluice_rt24_beat",
                         alert_runner="external", alert_eval_seconds=0.1) as gw:  # fmt: skip
        yield gw


def test_a_rule_process_failing_every_evaluation_is_not_reported_alive(
    external: DemoGateway, monkeypatch: pytest.MonkeyPatch
) -> None:
    gw = external
    home = Path(gw.settings.home)
    monkeypatch.setattr(alert_watch, "BEAT_EVERY_S", 0.1)  # a beat every 0.1 s, not 5 s
    view = TrailView(store=gw.services.audit.store, home=home, seal=SealStore(home))
    runner = _runner(gw.settings, view).start()
    watch = HeadWatch(view, runner, every_s=0.05).start()
    try:
        deadline = time.monotonic() + 15
        while runner.evaluations == 0 or read_beat(home) is None:
            assert time.monotonic() < deadline, "the rule process never evaluated"
            time.sleep(0.05)
        state = home / STATE_NAME
        if state.exists():
            state.unlink()
        state.mkdir()  # what the host's insider leaves where the state file was
        broke = time.monotonic()
        for _ in range(6):  # repeated_denials (threshold 5): an alert to open
            resp = gw.query("alice", DIBAO, {"fields": ["name"], "purpose": "marketing"})
            assert resp.status_code == 403, resp.text[:300]
        time.sleep(3.0)  # evaluations and beats meanwhile (every 0.1 s), each failing
        assert runner.running

        # the first failing evaluation began within about a second of the break
        age = beat_age_s(home, datetime.now(UTC))
        failing_for = time.monotonic() - broke
        assert age is not None and age >= failing_for - 1.5, (
            f"a rule process failing for {failing_for:.1f} s looked seen {age} s ago",
            read_beat(home),
        )
        # the doctor as it reads the home once the failures have lasted past its bound
        ahead = BEAT_STALE_S + 1 - age
        clock = (datetime.now(UTC) + timedelta(seconds=ahead)).timestamp
        doctor = check_alert_rules(Context(settings=gw.settings, clock=clock))
        assert doctor[0].status == Status.FAIL, doctor
        assert "failed every evaluation" in doctor[0].detail, doctor
        assert "fail" in doctor[0].detail, doctor
    finally:
        watch.stop()
        runner.stop()
        state = home / STATE_NAME
        if state.is_dir():
            shutil.rmtree(state)
