"""Email as an alert channel, over SMTP with the standard library's ``smtplib``.

One message per alert, plain text (the one-line summary as the subject, the alert's
fields in the body), to every recipient at once. ``starttls`` upgrades the connection
before anything else is said (the server's certificate is checked against the system
trust store, or ``ca_file``); credentials, if any, are sent only after that — or to a
relay on this machine (loopback), where there is no network to cross. Neither the
password nor the recipients ever appear in an error: ``PushFailed`` carries the error
class and the SMTP reply code only.
"""

from __future__ import annotations

import smtplib
import socket
import ssl
from collections.abc import Sequence
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from pathlib import Path
from typing import Any

import structlog

from audit.alert_push import PushFailed, alert_text
from catalog.controls import one_line
from catalog.http_deadline import ExchangeDeadline
from catalog.loopback import is_loopback

log = structlog.get_logger("sluice.alerts")

BODY_FIELDS = (
    "id",
    "rule",
    "severity",
    "actor",
    "subject",
    "summary",
    "window",
    "count",
    "event_seqs",
    "recurrence_of",
    "opened_at",
)


def _one_line(text: str) -> str:
    """Header-safe: no CR/LF (header injection), bounded."""
    return " ".join(text.split())[:200]


class _BoundedSMTP(smtplib.SMTP):
    """``smtplib.SMTP`` whose connection ``deadline`` cuts when it passes (the greeting,
    which the constructor reads, included)."""

    def __init__(self, deadline: ExchangeDeadline, *args: Any, **kwargs: Any) -> None:
        self._deadline = deadline
        super().__init__(*args, **kwargs)

    def _get_socket(self, host: str, port: int, timeout: float) -> socket.socket:
        sock = super()._get_socket(host, port, timeout)  # type: ignore[misc]
        self._deadline.watch(sock)
        return sock  # type: ignore[no-any-return]


class EmailChannel:
    """Alerts by email; one SMTP session per message (alerts are rare)."""

    name = "email"

    def __init__(
        self,
        *,
        host: str,
        port: int,
        sender: str,
        recipients: Sequence[str],
        user: str | None = None,
        password: str | None = None,
        starttls: bool = True,
        ca_file: Path | None = None,
        timeout_s: float = 10.0,
    ) -> None:
        if not recipients:
            raise ValueError("an email alert channel needs at least one recipient")
        if (user or password) and not starttls and not is_loopback(host):
            raise ValueError("SMTP credentials need STARTTLS unless the relay is on loopback")
        self.host, self.port, self.sender = host, port, sender
        self.recipients = list(recipients)
        self._user, self._password = user, password
        self.starttls, self.ca_file, self.timeout_s = starttls, ca_file, timeout_s

    def __repr__(self) -> str:  # never the password
        return f"EmailChannel(host={self.host!r}, port={self.port}, starttls={self.starttls})"

    def message(self, alert: dict[str, Any]) -> EmailMessage:
        msg = EmailMessage()
        msg["Subject"] = _one_line(alert_text(alert))
        msg["From"] = self.sender
        msg["To"] = ", ".join(self.recipients)
        msg["Date"] = formatdate(localtime=False)
        msg["Message-ID"] = make_msgid(domain="sluice.alerts")
        msg["X-Sluice-Alert-Id"] = _one_line(str(alert.get("id")))
        lines = [alert_text(alert), ""]
        # one line per field, whatever its text holds (red team 29: a forged field line)
        lines += [f"{k}: {one_line(alert.get(k))}" for k in BODY_FIELDS
                  if alert.get(k) is not None]  # fmt: skip
        msg.set_content("\n".join(lines) + "\n", charset="utf-8")
        return msg

    def send(self, alert: dict[str, Any]) -> None:
        """One mail, whole within ``timeout_s`` (red team 23: smtplib's timeout bounds
        each read, so a relay answering a byte at a time held the one push thread, and
        the webhook's alerts behind it, for as long as it chose)."""
        with ExchangeDeadline(self.timeout_s) as deadline:
            try:
                self._send(self.message(alert), deadline)
            except PushFailed:
                if deadline.expired:
                    raise PushFailed("timeout") from None
                raise

    def _send(self, msg: EmailMessage, deadline: ExchangeDeadline) -> None:
        try:
            with _BoundedSMTP(deadline, self.host, self.port, timeout=self.timeout_s) as smtp:
                smtp.ehlo()
                if self.starttls:
                    context = ssl.create_default_context(
                        cafile=str(self.ca_file) if self.ca_file else None
                    )
                    smtp.starttls(context=context)
                    smtp.ehlo()
                if self._user:
                    smtp.login(self._user, self._password or "")
                refused = smtp.send_message(msg, from_addr=self.sender, to_addrs=self.recipients)
        except smtplib.SMTPResponseException as exc:
            raise PushFailed(f"{type(exc).__name__} {exc.smtp_code}") from None
        except (smtplib.SMTPException, OSError, ssl.SSLError) as exc:
            raise PushFailed(type(exc).__name__) from None
        if refused:  # some accepted: a retry would send it to them twice
            log.warning(
                "alert_email_recipients_refused",
                alert=msg["X-Sluice-Alert-Id"],
                refused=len(refused),
                recipients=len(self.recipients),
            )
