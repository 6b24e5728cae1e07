"""The live alerts of one gateway process, wired from the settings: the rule runner
(always — rules run as events are appended whether or not anyone is told), and the
channels it pushes to (a webhook, email) when they are configured.

The runner hangs on the audit log (``AuditLog.alert_runner``) so the officers' routes
list and find alerts with the same rules, thresholds and baselines as the runner.
"""

from __future__ import annotations

from pathlib import Path

from audit.alert_email import EmailChannel
from audit.alert_outbox import outbox
from audit.alert_push import AlertChannel, AlertPusher, WebhookChannel
from audit.alert_runner import AlertRunner
from audit.alerts import AlertConfig
from audit.log import AuditLog
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
    if settings.alert_webhook_url:
        secret = settings.alert_webhook_secret
        channels.append(WebhookChannel(
            url=settings.alert_webhook_url,
            secret=secret.get_secret_value() if secret is not None else None,
            flavor=settings.alert_webhook_flavor,
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
        ))  # fmt: skip
    return channels


def start_alerts(settings: Settings, audit_log: AuditLog) -> AlertRunner:
    """Start the runner (and its pusher); ``stop()`` it on shutdown, before the log closes."""
    channels = alert_channels(settings)
    pusher = AlertPusher(
        outbox(Path(settings.home)),
        channels,
        attempts=settings.alert_push_attempts,
        backoff=settings.alert_push_backoff_seconds,
        max_backoff=settings.alert_push_max_backoff_seconds,
    )
    runner = AlertRunner(
        audit_log,
        config=alert_config(settings),
        channels=channels,
        pusher=pusher,
        interval_s=settings.alert_eval_seconds,
    )
    audit_log.alert_runner = runner
    return runner.start()
