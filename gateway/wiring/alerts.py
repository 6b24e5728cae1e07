"""The live alerts of one gateway process, wired from the settings: the rule runner
(always — rules run as events are appended whether or not anyone is told), and the
channels it pushes to (a webhook, email) when they are configured.

The runner hangs on the audit log (``AuditLog.alert_runner``) so the officers' routes
list and find alerts with the same rules, thresholds and baselines as the runner. With
``SLUICE_ALERT_RUNNER=external`` the runner and pusher run in a ``sluice alerts run``
process of their own (``run_alerts``; ``sluice serve`` starts one) and the gateway keeps
only that reader.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from audit.alert_email import EmailChannel
from audit.alert_outbox import outbox
from audit.alert_push import AlertChannel, AlertPusher, WebhookChannel
from audit.alert_runner import AlertRunner
from audit.alert_watch import HeadWatch, TrailView
from audit.alerts import AlertConfig
from audit.log import AuditLog
from audit.seal import SealStore
from audit.store import AuditStore
from gateway.core.settings import Settings


def alert_config(settings: Settings) -> AlertConfig:
    return AlertConfig(
        person_departments_per_day=settings.alert_person_departments_per_day,
        baseline_days=settings.alert_baseline_days,
        baseline_min_events=settings.alert_baseline_min_events,
        baseline_min_days=settings.alert_baseline_min_days,
    )


def alert_channels(settings: Settings) -> list[AlertChannel]:
    """The configured channels; secrets are unwrapped here and held by the channel only."""
    channels: list[AlertChannel] = []
    timeout = settings.alert_push_timeout_seconds
    bound = {} if timeout is None else {"timeout_s": timeout}
    if settings.alert_webhook_url:
        secret = settings.alert_webhook_secret
        channels.append(WebhookChannel(
            url=settings.alert_webhook_url,
            secret=secret.get_secret_value() if secret is not None else None,
            flavor=settings.alert_webhook_flavor,
            **bound,
        ))  # fmt: skip
    if settings.alert_smtp_host and settings.alert_smtp_from:
        password = settings.alert_smtp_password
        channels.append(EmailChannel(
            host=settings.alert_smtp_host,
            port=settings.alert_smtp_port,
            sender=settings.alert_smtp_from,
            recipients=list(settings.alert_smtp_to),
            user=settings.alert_smtp_user,
            password=password.get_secret_value() if password is not None else None,
            starttls=settings.alert_smtp_starttls,
            ca_file=settings.alert_smtp_ca_file,
            **bound,
        ))  # fmt: skip
    return channels


def _runner(settings: Settings, trail: Any) -> AlertRunner:
    channels = alert_channels(settings)
    pusher = AlertPusher(
        outbox(Path(settings.home)),
        channels,
        attempts=settings.alert_push_attempts,
        backoff=settings.alert_push_backoff_seconds,
        max_backoff=settings.alert_push_max_backoff_seconds,
    )
    return AlertRunner(
        trail,
        config=alert_config(settings),
        channels=channels,
        pusher=pusher,
        interval_s=settings.alert_eval_seconds,
    )


def start_alerts(settings: Settings, audit_log: AuditLog, *, run: bool = True
                 ) -> Callable[[], None]:  # fmt: skip
    """Start the runner (and its pusher) in this process, or only hang a reader for the
    officers' routes when it runs in another (``alert_runner='external'``) or when this
    process is a CLI command that ends in a moment (``run=False``: the gateway's rule
    process, or the next gateway to start, evaluates what it appended); returns what to
    call on shutdown, before the log closes."""
    runner = _runner(settings, audit_log)
    audit_log.alert_runner = runner
    if settings.alert_runner == "external" or not run:
        runner.reads_itself = True
        return lambda: None
    return runner.start().stop


def run_alerts(settings: Settings, stop: threading.Event) -> None:
    """``sluice alerts run``: the runner, its pusher and a head watch over this home's
    trail until ``stop`` is set (``audit.alert_watch``)."""
    home = Path(settings.home)
    store = AuditStore(settings.resolved_database_url,
                       timeout_s=settings.audit_append_timeout_s)  # fmt: skip
    view = TrailView(store=store, home=home, seal=SealStore(home))
    runner = _runner(settings, view).start()
    watch = HeadWatch(view, runner).start()
    try:
        stop.wait()
    finally:
        watch.stop()
        runner.stop()
        store.close_readers()
