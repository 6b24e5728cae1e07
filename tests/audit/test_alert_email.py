"""Email alerts over SMTP against a real local server (aiosmtpd): what a message holds,
logging in, and that neither the password nor the recipients leak into errors."""

from __future__ import annotations

import pytest

from audit.alert_email import EmailChannel, is_loopback
from audit.alert_push import PushFailed
from tests.audit.receivers import smtp_server

SENDER = "sluice@gw.example"
TO = ["officer@example.org", "soc@example.org"]
PASSWORD = "s3cret-Pa55-9917"
ALERT = {"id": "a1b2c3", "rule": "bulk_pull", "severity": "high", "actor": "eve",
         "subject": "eve", "summary": "20000 rows within an hour", "count": 1,
         "event_seqs": [4, 5], "window": "2026-12-03"}  # fmt: skip


def test_an_alert_is_one_message_to_every_recipient() -> None:
    with smtp_server() as mail:
        EmailChannel(host=mail.host, port=mail.port, sender=SENDER, recipients=TO,
                     starttls=False).send(ALERT)  # fmt: skip
        sender, rcpts, msg = mail.messages(want=lambda m: m["X-Sluice-Alert-Id"] == "a1b2c3")[-1]
    assert sender == SENDER and rcpts == TO
    assert msg["Subject"].startswith("[Sluice HIGH] bulk_pull (eve)")
    body = msg.get_payload(decode=True).decode()
    assert "20000 rows within an hour" in body and "event_seqs: [4, 5]" in body


def test_a_hostile_actor_name_cannot_add_headers() -> None:
    hostile = {**ALERT, "actor": "eve\r\nBcc: attacker@evil.example", "id": "h1"}
    with smtp_server() as mail:
        EmailChannel(host=mail.host, port=mail.port, sender=SENDER, recipients=TO,
                     starttls=False).send(hostile)  # fmt: skip
        _sender, rcpts, msg = mail.messages(want=lambda m: m["X-Sluice-Alert-Id"] == "h1")[-1]
    assert rcpts == TO and msg["Bcc"] is None


def test_login_on_a_loopback_relay_and_no_password_in_errors() -> None:
    with smtp_server(user="alerts", password=PASSWORD) as mail:
        good = EmailChannel(host=mail.host, port=mail.port, sender=SENDER, recipients=TO,
                            user="alerts", password=PASSWORD, starttls=False)  # fmt: skip
        good.send(ALERT)
        assert mail.logins == [("alerts", PASSWORD)]
        assert PASSWORD not in repr(good)
        bad = EmailChannel(host=mail.host, port=mail.port, sender=SENDER, recipients=TO,
                           user="alerts", password="wrong-" + PASSWORD, starttls=False)  # fmt: skip
        with pytest.raises(PushFailed) as failed:
            bad.send(ALERT)
        # no credentials at all: the server requires them
        anonymous = EmailChannel(host=mail.host, port=mail.port, sender=SENDER,
                                 recipients=TO, starttls=False)  # fmt: skip
        with pytest.raises(PushFailed) as refused:
            anonymous.send(ALERT)
    for exc in (failed.value, refused.value):
        text = str(exc)
        assert PASSWORD not in text and "officer@" not in text and "alerts" not in text
    assert str(failed.value).startswith("SMTPAuthenticationError 535")


def test_an_unreachable_server_is_a_push_failure() -> None:
    with smtp_server() as mail:
        port = mail.port
    channel = EmailChannel(host="127.0.0.1", port=port, sender=SENDER, recipients=TO,
                           starttls=False, timeout_s=2)  # fmt: skip
    with pytest.raises(PushFailed, match="ConnectionRefusedError"):
        channel.send(ALERT)


def test_starttls_required_by_the_client_fails_against_a_plain_server() -> None:
    """With STARTTLS on (the default) and a server that does not offer it, nothing is
    sent in clear: the push fails and will be retried."""
    with smtp_server() as mail:
        channel = EmailChannel(host=mail.host, port=mail.port, sender=SENDER, recipients=TO)
        with pytest.raises(PushFailed, match="SMTPNotSupportedError"):
            channel.send(ALERT)
        assert mail.got.empty()


def test_credentials_in_clear_are_refused_except_to_loopback() -> None:
    with pytest.raises(ValueError, match="STARTTLS"):
        EmailChannel(host="smtp.example.org", port=25, sender=SENDER, recipients=TO,
                     user="u", password="p", starttls=False)  # fmt: skip
    assert is_loopback("127.0.0.1") and is_loopback("localhost") and is_loopback("::1")
    assert not is_loopback("10.0.0.1") and not is_loopback("smtp.example.org")
