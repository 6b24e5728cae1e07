"""Alert channel settings (issue 12): validated once at start, secrets never shown."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from gateway.core.settings import load_settings
from gateway.wiring.alerts import alert_channels, alert_config

SMTP = {"alert_smtp_host": "smtp.example.org", "alert_smtp_from": "sluice@example.org",
        "alert_smtp_to": "officer@example.org, soc@example.org"}  # fmt: skip


def test_email_settings_build_an_email_channel(tmp_path: Path) -> None:
    settings = load_settings(home=tmp_path, **SMTP, alert_smtp_user="alerts",
                             alert_smtp_password="pw-7731-secret")  # fmt: skip
    assert settings.alert_smtp_to == ["officer@example.org", "soc@example.org"]
    assert settings.alert_smtp_starttls is True and settings.alert_smtp_port == 587
    (channel,) = alert_channels(settings)
    assert channel.name == "email"
    assert "pw-7731-secret" not in repr(settings) and "pw-7731-secret" not in repr(channel)
    assert "pw-7731-secret" not in settings.model_dump_json()


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"alert_smtp_from": None}, "SLUICE_ALERT_SMTP_FROM"),
        ({"alert_smtp_to": ""}, "SLUICE_ALERT_SMTP_TO"),
        ({"alert_smtp_to": "officer"}, "SLUICE_ALERT_SMTP_TO"),
        ({"alert_smtp_to": "a@example.org\r\nRCPT TO:<x@evil.example>"}, "line breaks"),
        ({"alert_smtp_from": "s@example.org\nBcc: x@evil.example"}, "line breaks"),
        (
            {"alert_smtp_user": "u", "alert_smtp_password": "p", "alert_smtp_starttls": False},
            "in clear",
        ),
    ],
)
def test_incomplete_or_unsafe_email_settings_are_refused(
    tmp_path: Path, overrides: dict[str, object], message: str
) -> None:
    with pytest.raises(ValidationError, match=message):
        load_settings(home=tmp_path, **{**SMTP, **overrides})


def test_credentials_in_clear_to_a_loopback_relay_are_allowed(tmp_path: Path) -> None:
    settings = load_settings(home=tmp_path, **{**SMTP, "alert_smtp_host": "127.0.0.1"},
                             alert_smtp_user="u", alert_smtp_password="p",
                             alert_smtp_starttls=False)  # fmt: skip
    assert [c.name for c in alert_channels(settings)] == ["email"]


def test_rule_thresholds_come_from_the_settings(tmp_path: Path) -> None:
    cfg = alert_config(load_settings(home=tmp_path, alert_person_departments_per_day=3,
                                     alert_baseline_days=14, alert_baseline_min_events=5,
                                     alert_baseline_min_days=2))  # fmt: skip
    assert (cfg.person_departments_per_day, cfg.baseline_days, cfg.baseline_min_events,
            cfg.baseline_min_days) == (3, 14, 5, 2)  # fmt: skip
    assert alert_channels(load_settings(home=tmp_path)) == []


def test_one_push_bound_comes_from_the_settings(tmp_path: Path) -> None:
    """Each channel's own bound (5 s webhook, 10 s mail) unless the operator sets one."""
    hook = {"alert_webhook_url": "https://hooks.example.org/x"}
    default = alert_channels(load_settings(home=tmp_path, **SMTP, **hook))
    assert [(c.name, c.timeout_s) for c in default] == [("webhook", 5.0), ("email", 10.0)]
    bounded = alert_channels(load_settings(home=tmp_path, **SMTP, **hook,
                                           alert_push_timeout_seconds="1.5"))  # fmt: skip
    assert [c.timeout_s for c in bounded] == [1.5, 1.5]
    with pytest.raises(ValidationError, match="alert_push_timeout_seconds"):
        load_settings(home=tmp_path, alert_push_timeout_seconds=0)
