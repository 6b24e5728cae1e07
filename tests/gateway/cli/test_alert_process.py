"""``sluice serve`` runs the alert rules in a process of its own (``--alerts process``,
the default): new alerts still reach the channels, a rule process that dies is started
again, and none outlives the gateway — stopped or killed outright. The gateway keeps
only a reader, so the officers' alert list answers with the same rules.

Real processes: ``sluice serve`` over a demo home, a local webhook receiver.
"""

from __future__ import annotations

import os
import re
import signal
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from audit.alert_watch import BEAT_NAME, write_beat
from gateway.cli.doctor.home import check_alert_rules
from gateway.cli.doctor.report import Context, Status
from gateway.cli.main import cli
from gateway.core.settings import load_settings
from tests import live_http
from tests.audit.receivers import Webhook, webhook_receiver
from tests.audit.test_alert_runner import until
from tests.gateway.demo_app import demo_gateway
from tests.ops.processes import Served, serve, sluice

SECRET = "alert-process-webhook-secret-7731"
DIBAO = "civil.dibao_recipients"
BOUND_S = 60.0  # the webhook's wait; ``until`` has its own bound


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # a zombie (ended, not yet reaped by init) is gone for this purpose, as is one reaped
    # between the signal and the read
    try:
        return "zombie" not in Path(f"/proc/{pid}/status").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return False


def _rule_processes(gateway_pid: int) -> list[int]:
    """The gateway's children running ``sluice alerts run``."""
    found = []
    for task in Path(f"/proc/{gateway_pid}/task").iterdir():
        try:
            children = (task / "children").read_text().split()
        except (FileNotFoundError, ProcessLookupError):  # a thread that ended meanwhile
            continue
        for child in children:
            try:
                cmdline = Path(f"/proc/{child}/cmdline").read_bytes().replace(b"\0", b" ")
            except (FileNotFoundError, ProcessLookupError):  # a child that ended or was
                continue  # reaped between the listing and the read (the killed rule
                # process: ENOENT once, and ESRCH mid-read in stop 42's clean clone)
            if b"alerts run" in cmdline:
                found.append(int(child))
    return found


def _deny(served: Served, token: str, times: int = 6) -> None:
    """Six refusals of one analyst within the hour: ``repeated_denials`` (threshold 5)."""
    for _ in range(times):
        resp = live_http.post(f"{served.base}/api/v1/datasets/{DIBAO}/query",
                          json={"fields": ["name"], "purpose": "marketing"},
                          headers={"Authorization": f"Bearer {token}"}, timeout=30)  # fmt: skip
        assert resp.status_code == 403, resp.text[:300]


@pytest.fixture
def demo_home(tmp_path: Path) -> Iterator[tuple[Path, dict[str, str]]]:
    home = tmp_path / "home"
    with demo_gateway(home, alert_runner="external") as gw:
        tokens = {who: gw.token(who, ttl=900) for who in ("alice", "carl", "sam")}
    yield home, tokens


def _settings(home: Path, hook: Webhook) -> dict[str, str]:
    return {
        "SLUICE_HOME": str(home),
        "SLUICE_ALERT_WEBHOOK_URL": hook.url,
        "SLUICE_ALERT_WEBHOOK_SECRET": SECRET,
        "SLUICE_ALERT_EVAL_SECONDS": "0.5",
        "SLUICE_ALERT_PUSH_BACKOFF_SECONDS": "0.2",
    }


def _pushed(hook: Webhook, actor: str) -> list[dict[str, Any]]:
    """The ``repeated_denials`` alerts about ``actor`` among those pushed until one is."""

    def wanted(alert: dict[str, Any]) -> bool:
        return bool(alert["rule"] == "repeated_denials" and alert["actor"] == actor)

    return [a for a in hook.alerts(timeout=BOUND_S, want=wanted) if wanted(a)]


@contextmanager
def _served(home: Path, hook: Webhook, tmp_path: Path) -> Iterator[tuple[Served, int]]:
    """``sluice serve`` on ``home`` and its rule process, once both run; stopped after
    (a no-op on one already stopped or killed)."""
    served = serve("gw", _settings(home, hook), tmp_path)
    try:
        served.wait_ready()
        children = until(lambda: _rule_processes(served.proc.pid), "the rule process runs")
        assert len(children) == 1
        yield served, children[0]
    finally:
        served.stop()


def test_the_rules_run_beside_the_gateway_restart_and_end_with_it(
    demo_home: tuple[Path, dict[str, str]], tmp_path: Path
) -> None:
    home, tokens = demo_home
    with webhook_receiver() as hook, _served(home, hook, tmp_path) as (served, first):
        assert f"alert rules   own process (pid {first}" in served.output()

        _deny(served, tokens["alice"])
        assert _pushed(hook, "alice"), "alice's alert reached the webhook"
        listed = live_http.get(f"{served.base}/api/v1/audit/alerts",
                           headers={"Authorization": f"Bearer {tokens['sam']}"},
                           timeout=30).json()["alerts"]  # fmt: skip
        assert any(a["rule"] == "repeated_denials" and a["actor"] == "alice" for a in listed)
        doctor = sluice("doctor", settings=_settings(home, hook)).stdout
        assert re.search(rf"ok\s+alert rules\s+rule process pid {first}, seen \d+ s ago", doctor)
        scraped = live_http.get(
            f"{served.base}/metrics",
            timeout=30,
            headers={"Authorization": f"Bearer {tokens['sam']}"},
        ).text
        assert "sluice_alert_rules_seen_age_seconds " in scraped

        os.kill(first, signal.SIGKILL)  # the rule process dies
        second = until(lambda: [p for p in _rule_processes(served.proc.pid) if p != first],
                       "a new rule process")  # fmt: skip
        assert "alert_process_exited" in served.output()
        _deny(served, tokens["carl"])
        assert _pushed(hook, "carl"), "the new process pushes carl's alert"
        served.stop()
        assert not served.alive
        assert not _alive(second[0]), "the rule process ended with the gateway"
        assert "Sluice gateway stopped" in served.output()
    assert not (home / BEAT_NAME).exists(), "a clean stop takes the beat away"


def test_a_killed_gateway_leaves_no_rule_process_behind(
    demo_home: tuple[Path, dict[str, str]], tmp_path: Path
) -> None:
    home, _tokens = demo_home
    with webhook_receiver() as hook, _served(home, hook, tmp_path) as (served, child):
        served.kill()  # SIGKILL: no shutdown code of the gateway runs
    until(lambda: not _alive(child), "the orphaned rule process exits")


def test_the_doctor_fails_on_a_stale_beat_and_on_no_rule_process_when_told_external(
    tmp_path: Path,
) -> None:
    """A rule process killed outright leaves its beat behind, ageing; a gateway told the
    rules run elsewhere with no rule process ever seen is silence, not a quiet day."""
    home = tmp_path / "home"
    home.mkdir(mode=0o700)
    settings = load_settings(home=home, alert_runner="external")
    missing = check_alert_rules(Context(settings=settings))
    assert missing[0].status == Status.FAIL and "no rule process" in missing[0].detail
    quiet = check_alert_rules(Context(settings=load_settings(home=home)))
    assert quiet[0].status == Status.SKIP

    class Runner:
        evaluations = 3

    write_beat(home, Runner(), datetime.now(UTC))
    fresh = check_alert_rules(Context(settings=settings))
    assert fresh[0].status == Status.OK
    later = check_alert_rules(Context(settings=settings, clock=lambda: time.time() + 60))
    assert later[0].status == Status.FAIL and "last seen 60 s ago" in later[0].detail


@pytest.mark.parametrize("command", ["serve", "demo"])
def test_a_command_run_in_process_leaves_the_environment_as_it_was(
    command: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``--alerts`` goes to the gateway's settings, not into this process's environment:
    written there, it told every later gateway of the process (a test worker's) that its
    rules ran elsewhere, and none pushed an alert again."""
    monkeypatch.delenv("SLUICE_ALERT_RUNNER", raising=False)
    # refused before serving: demo mode off, and a port that is not a port
    env = {"SLUICE_HOME": str(tmp_path / "home"), "SLUICE_DEMO": "false"}
    args = [command, "--port", "-1"] if command == "serve" else [command, "--no-serve"]
    CliRunner().invoke(cli, args, env=env)
    assert "SLUICE_ALERT_RUNNER" not in os.environ
