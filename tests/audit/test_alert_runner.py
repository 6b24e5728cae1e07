"""Live alerts: rules run as events are appended (a wake-up from the writer, no reader,
no channel needed), new alerts reach a local webhook and a local SMTP server, failed
pushes are retried and survive a restart, and a push that finally fails is visible.
On SQLite and PostgreSQL (``db_url``). Waits poll with a generous bound; nothing here
asserts on elapsed time."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import orjson
import pytest
import structlog

from audit.alert_email import EmailChannel
from audit.alert_outbox import Outbox, outbox
from audit.alert_push import AlertChannel, AlertPusher, WebhookChannel
from audit.alert_runner import AlertRunner, gap_after
from audit.alert_state import alert_states, current_alerts
from audit.alerts import AlertConfig
from audit.log import AuditLog
from tests.audit.helpers import event, open_log
from tests.audit.receivers import smtp_server, webhook_receiver

SECRET = "runner-test-secret-8841"
# whatever the hour the tests run at, only the rules they plant fire
ALWAYS_WORKING = AlertConfig(work_start_hour=0, work_end_hour=24, workdays=frozenset(range(7)))
BOUND_S = 30.0


def denial(n: int, sub: str = "mallory") -> dict[str, Any]:
    return event(n, type="query.denied", outcome="denied",
                 actor={"sub": sub, "dept": "finance", "roles": ["analyst"]})  # fmt: skip


def until(check: Callable[[], Any], what: str) -> Any:
    deadline = time.monotonic() + BOUND_S
    while True:
        value = check()
        if value:
            return value
        assert time.monotonic() < deadline, f"not within {BOUND_S} s: {what}"
        time.sleep(0.05)


@pytest.fixture
def log(db_url: str, tmp_path: Path) -> Iterator[AuditLog]:
    with open_log(db_url, tmp_path) as opened:
        yield opened


@contextmanager
def running(log: AuditLog, channels: list[AlertChannel], *, box: Outbox | None = None,
            **pusher: Any) -> Iterator[AlertRunner]:  # fmt: skip
    """A runner that only evaluates when the writer wakes it (no periodic evaluation
    within the test), and its pusher with a short back-off."""
    pusher.setdefault("backoff", 0.05)
    push = AlertPusher(box or outbox(log.home), channels, idle_s=0.2, **pusher)
    runner = AlertRunner(
        log, config=ALWAYS_WORKING, channels=channels, pusher=push,
        interval_s=0.1, settle_s=0.05, min_gap_s=0.1, rescan_s=3600,
    ).start()  # fmt: skip
    try:
        yield runner
    finally:
        runner.stop()


def _opened(log: AuditLog, rule: str, sub: str = "mallory") -> list[dict[str, Any]]:
    return [s for s in alert_states(log.home).snapshots()
            if s["rule"] == rule and s["actor"] == sub]  # fmt: skip


def test_rules_run_as_events_are_appended_with_no_channel_and_no_reader(log: AuditLog) -> None:
    with running(log, []) as runner:
        until(lambda: runner.evaluations >= 1, "the first evaluation at start")
        for n in range(6):  # denials_per_hour is 5: the sixth fires
            log.append(denial(n))
        opened = until(lambda: _opened(log, "repeated_denials"), "the alert is opened")
    assert len(opened) == 1 and opened[0]["count"] == 1
    assert opened[0]["opened_at"] and len(opened[0]["event_seqs"]) == 6


def test_new_alerts_reach_the_webhook_and_the_mailbox(log: AuditLog) -> None:
    with webhook_receiver() as hook, smtp_server() as mail:
        channels: list[AlertChannel] = [
            WebhookChannel(url=hook.url, secret=SECRET),
            EmailChannel(host=mail.host, port=mail.port, sender="sluice@gw.example",
                         recipients=["officer@example.org", "soc@example.org"], starttls=False),
        ]  # fmt: skip
        with running(log, channels):
            for n in range(6):
                log.append(denial(n))
            got = hook.alerts(want=lambda a: a["rule"] == "repeated_denials")
            mails = mail.messages(want=lambda m: "repeated_denials" in str(m["Subject"]))
    alert = got[-1]
    assert alert["rule"] == "repeated_denials" and alert["actor"] == "mallory"
    assert alert["state"] == "open" and alert["count"] == 1
    sender, rcpts, message = mails[-1]
    assert sender == "sluice@gw.example"
    assert rcpts == ["officer@example.org", "soc@example.org"]
    assert alert["id"] in str(message["Subject"]) and message["X-Sluice-Alert-Id"] == alert["id"]
    assert "mallory" in message.get_payload(decode=True).decode()
    pushes = current_alerts(log)
    mine = next(a for a in pushes if a["id"] == alert["id"])
    assert sorted((p["channel"], p["status"]) for p in mine["pushes"]) == [
        ("email", "delivered"), ("webhook", "delivered")]  # fmt: skip


def test_a_push_is_retried_until_the_receiver_accepts_it(log: AuditLog) -> None:
    with (
        webhook_receiver(fail_first=2) as hook,
        running(log, [WebhookChannel(url=hook.url, secret=SECRET)]),
    ):
        for n in range(6):
            log.append(denial(n))
        got = hook.alerts(want=lambda a: a["rule"] == "repeated_denials")
        assert got and got[-1]["rule"] == "repeated_denials"
        aid = got[-1]["id"]
        push = until(lambda: (p := outbox(log.home).get(aid, "webhook")) and
                     p.status == "delivered" and p, "delivered on record")  # fmt: skip
    assert hook.per_alert[aid] == 3 and push.attempts == 3
    records = [orjson.loads(line) for line in (log.home / "alerts-outbox.jsonl").read_bytes()
               .splitlines()]  # fmt: skip
    failed = [r for r in records if r["kind"] == "failed" and r["id"] == aid]
    assert [r["error"] for r in failed] == ["HTTP 503", "HTTP 503"]
    assert SECRET not in (log.home / "alerts-outbox.jsonl").read_text()


def test_pending_pushes_survive_a_restart(log: AuditLog) -> None:
    """The receiver is down: the push fails and waits. The gateway stops; it starts
    again (a new outbox read from disk) and the receiver is back: delivered, once."""
    with webhook_receiver(fail_first=10**6) as hook:
        channel = WebhookChannel(url=hook.url, secret=SECRET)
        with running(log, [channel], backoff=0.3):
            for n in range(6):
                log.append(denial(n))
            until(lambda: hook.posts >= 1, "a first attempt")
            aid = _opened(log, "repeated_denials")[0]["id"]
            until(lambda: (p := Outbox(log.home).get(aid, "webhook")) and p.attempts >= 1,
                  "the failure on record")  # fmt: skip
        before = Outbox(log.home).get(aid, "webhook")
        assert before is not None and before.status == "pending"
        hook.fail_first = 0
        fresh = Outbox(log.home)  # what a restarted process reads
        with running(log, [channel], box=fresh, backoff=0.3):
            got = hook.alerts(want=lambda a: a["id"] == aid)
            assert got and got[-1]["id"] == aid
            done = until(lambda: (p := Outbox(log.home).get(aid, "webhook")) and
                         p.status == "delivered" and p, "delivered on record")  # fmt: skip
    assert done.attempts == before.attempts + 1
    lines = (log.home / "alerts-state.jsonl").read_bytes().splitlines()
    opened = [r for r in map(orjson.loads, lines) if r["kind"] == "opened" and r["id"] == aid]
    assert len(opened) == 1


def test_a_push_that_finally_fails_is_visible_on_the_alert_and_in_the_log(
    log: AuditLog,
) -> None:
    with webhook_receiver(fail_first=10**6) as hook, structlog.testing.capture_logs() as logs:
        secret_url = hook.url + "?key=robot-key-77"
        with running(log, [WebhookChannel(url=secret_url, secret=SECRET)], attempts=3):
            for n in range(6):
                log.append(denial(n))
            aid = until(lambda: _opened(log, "repeated_denials"), "opened")[0]["id"]
            until(lambda: (p := outbox(log.home).get(aid, "webhook")) and p.status == "failed",
                  "given up")  # fmt: skip
    alert = next(a for a in current_alerts(log) if a["id"] == aid)
    assert alert["pushes"] == [{"channel": "webhook", "status": "failed", "attempts": 3,
                                "error": "HTTP 503", "at": alert["pushes"][0]["at"]}]  # fmt: skip
    gave_up = [e for e in logs if e["event"] == "alert_push_gave_up"]
    assert [(e["alert"], e["channel"], e["attempts"]) for e in gave_up] == [(aid, "webhook", 3)]
    text = repr(logs)
    assert SECRET not in text and "robot-key-77" not in text and hook.url not in text


def test_a_resolved_alert_whose_finding_recurs_opens_a_new_alert(log: AuditLog) -> None:
    with running(log, []):
        for n in range(6):
            log.append(denial(n))
        first = until(lambda: _opened(log, "repeated_denials"), "opened")[0]
        states = alert_states(log.home)
        states.transition(first["id"], "resolved", by="sam", note="trained",
                          record=lambda _s: None, upto_seq=max(first["event_seqs"]))  # fmt: skip
        log.append(denial(100))  # one more denial of the same burst: not a recurrence
        for n in range(6):  # a second burst the same day: the finding recurs
            log.append(denial(200 + n))
        opened = until(lambda: len(_opened(log, "repeated_denials")) == 2
                       and _opened(log, "repeated_denials"), "the recurrence opens")  # fmt: skip
    second = next(a for a in opened if a["id"] != first["id"])
    assert second["recurrence_of"] == first["id"] and second["count"] == 1
    assert min(second["event_seqs"]) > max(first["event_seqs"])
    listed = {a["id"]: a for a in current_alerts(log)}
    assert listed[first["id"]]["state"] == "resolved" and listed[first["id"]]["count"] == 1
    assert listed[second["id"]]["state"] == "open"


def test_a_costly_evaluation_spaces_the_next_ones_out() -> None:
    """Under steady appends the runner evaluates at most once per ``min_gap_s``, and an
    evaluation that costs more stretches the gap so the runner takes at most
    ``max_share`` of the time (its share of a core under a busy day's queries)."""
    assert gap_after(0.01, min_gap_s=1.0, max_share=0.1) == 1.0  # cheap: the floor
    assert gap_after(0.3, min_gap_s=1.0, max_share=0.1) == pytest.approx(3.0)
    cost, gap = 0.3, gap_after(0.3, min_gap_s=1.0, max_share=0.1)
    assert cost / (cost + gap) <= 0.1
