"""Push alerts to their channels, off the request path, retried until delivered.

The rule runner (``audit.alert_runner``) queues each new alert in the outbox
(``audit.alert_outbox``) once per configured channel; ``AlertPusher``, a background
thread, sends what is due. A failed attempt is recorded with the time of the next one
(exponential back-off: ``backoff``, 2×, 4×… capped at ``max_backoff``); after
``attempts`` failures the push is given up, which the alert shows (``pushes``) and the
log says (``alert_push_gave_up``, with the alert id, channel and error class only).
Because the outbox is on disk a restart resumes what was pending.

Channels implement ``AlertChannel`` (``name``, ``send``): the webhook here, email over
SMTP in ``audit.alert_email``. Webhook flavors:

- ``generic``: the alert as JSON, ``X-Sluice-Signature: sha256=<hex HMAC-SHA256 of the
  body under the secret>``;
- ``wecom``: ``{"msgtype": "text", "text": {"content": …}}`` (the key is in the URL);
- ``dingtalk``: the same body; with a secret, ``timestamp`` (ms) and ``sign`` =
  urlencode(base64(HMAC-SHA256(secret, "timestamp\\nsecret"))) as query parameters;
- ``feishu``: ``{"timestamp", "sign", "msg_type": "text", "content": {"text": …}}``,
  sign = base64(HMAC-SHA256(key="timestamp\\nsecret", msg="")); ``<`` sent as ``＜``
  (``feishu_text``: no mention tag).

The secret is never logged (nor the URL, which for robots carries a key).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import threading
import time
import urllib.parse
from collections.abc import Callable, Sequence
from typing import Any, Protocol

import httpx
import orjson
import structlog

from audit.alert_outbox import Outbox
from catalog.controls import one_line
from catalog.http_deadline import ExchangeDeadline
from catalog.tls_default import default_tls

FLAVORS = ("generic", "wecom", "dingtalk", "feishu")
log = structlog.get_logger("sluice.alerts")

Request = tuple[str, bytes, dict[str, str]]  # url, body, headers


def alert_text(alert: dict[str, Any]) -> str:
    """The alert as one line of text (a group robot's message, a mail's subject and
    first line). Every part on one line, controls escaped (``catalog.controls``): a
    summary names catalog text — the fields a steward published below their suggested
    level, by their source columns' names — and a newline there forged a second alert
    line in the officers' chat, an escape sequence acted on their terminal (red team 29)."""
    who = f" ({one_line(alert['actor'])})" if alert.get("actor") else ""
    return (f"[Sluice {one_line(alert.get('severity', '')).upper()}] "
            f"{one_line(alert.get('rule'))}{who}: {one_line(alert.get('summary'))} — "
            f"alert {one_line(alert.get('id'))}")  # fmt: skip


def _json(body: Any) -> tuple[bytes, dict[str, str]]:
    return orjson.dumps(body), {"Content-Type": "application/json"}


def generic_request(url: str, secret: str | None, alert: dict[str, Any]) -> Request:
    fields = ("id", "rule", "severity", "state", "actor", "subject", "summary", "event_seqs",
              "window", "count", "recurrence_of")  # fmt: skip
    body, headers = _json({"source": "sluice",
                           "alert": {k: alert.get(k, "open" if k == "state" else None)
                                     for k in fields}})  # fmt: skip
    if secret:
        digest = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
        headers["X-Sluice-Signature"] = f"sha256={digest}"
    return url, body, headers


def wecom_request(url: str, secret: str | None, alert: dict[str, Any]) -> Request:
    body, headers = _json({"msgtype": "text", "text": {"content": alert_text(alert)}})
    return url, body, headers


def dingtalk_sign(secret: str, timestamp_ms: int) -> str:
    to_sign = f"{timestamp_ms}\n{secret}".encode()
    mac = hmac.new(secret.encode(), to_sign, hashlib.sha256).digest()
    return urllib.parse.quote_plus(base64.b64encode(mac).decode())


def dingtalk_request(
    url: str, secret: str | None, alert: dict[str, Any], *, now_ms: int | None = None
) -> Request:
    body, headers = _json({"msgtype": "text", "text": {"content": alert_text(alert)}})
    if secret:
        ts = now_ms if now_ms is not None else int(time.time() * 1000)
        sep = "&" if urllib.parse.urlsplit(url).query else "?"
        url = f"{url}{sep}timestamp={ts}&sign={dingtalk_sign(secret, ts)}"
    return url, body, headers


def feishu_sign(secret: str, timestamp_s: int) -> str:
    key = f"{timestamp_s}\n{secret}".encode()
    return base64.b64encode(hmac.new(key, b"", hashlib.sha256).digest()).decode()


def feishu_request(
    url: str, secret: str | None, alert: dict[str, Any], *, now_s: int | None = None
) -> Request:
    payload: dict[str, Any] = {}
    if secret:
        ts = now_s if now_s is not None else int(time.time())
        payload = {"timestamp": str(ts), "sign": feishu_sign(secret, ts)}
    payload.update({"msg_type": "text", "content": {"text": feishu_text(alert_text(alert))}})
    body, headers = _json(payload)
    return url, body, headers


def feishu_text(text: str) -> str:
    """``text`` with every ``<`` as the full-width ``＜``: Feishu reads ``<at
    user_id="all">`` in a text message as a mention of the whole group (``ou_…`` of one
    person), and a summary names catalog text — a source column named so paged every
    officer under the gateway's name (red team 63's left row)."""
    return text.replace("<", "\uff1c")


BUILDERS: dict[str, Callable[[str, str | None, dict[str, Any]], Request]] = {
    "generic": generic_request,
    "wecom": wecom_request,
    "dingtalk": dingtalk_request,
    "feishu": feishu_request,
}


class PushFailed(Exception):
    """One delivery attempt failed; ``str()`` is safe to log and to show on the alert
    (an error class or a status code: never a URL, a recipient or a secret)."""


class AlertChannel(Protocol):
    """Where alerts go; ``send`` returns once the channel accepted the alert."""

    name: str
    timeout_s: float
    """The bound on one ``send`` as a whole: the outbox claims the push for at least
    this long (and a margin) before the attempt."""

    def send(self, alert: dict[str, Any]) -> None:
        """Deliver one alert, or raise ``PushFailed``."""


class WebhookChannel:
    """A signed webhook or a group robot (``flavor``)."""

    name = "webhook"

    def __init__(self, *, url: str, secret: str | None, flavor: str = "generic",
                 timeout_s: float = 5.0) -> None:  # fmt: skip
        if flavor not in BUILDERS:
            raise ValueError(f"alert webhook flavor must be one of {FLAVORS}: {flavor!r}")
        self.url, self.secret, self.flavor, self.timeout_s = url, secret, flavor, timeout_s

    def send(self, alert: dict[str, Any]) -> None:
        """One push, whole within ``timeout_s`` (red team 22: a receiver answering a byte
        at a time, each read inside httpx's timeout, held the one push thread, and every
        channel's alerts behind it, for as long as it chose). Only the status is read:
        ``post`` read the receiver's whole answer into memory first, however large (red
        team 35: hundreds of megabytes within the bound, at every push and retry)."""
        url, body, headers = BUILDERS[self.flavor](self.url, self.secret, alert)
        with ExchangeDeadline(self.timeout_s) as deadline:
            try:
                with httpx.Client(timeout=self.timeout_s, verify=default_tls(trust_env=True)
                                  ) as client:  # fmt: skip
                    asked = client.stream("POST", url, content=body, headers=headers,
                                          extensions={"trace": deadline.trace})  # fmt: skip
                    with asked as resp:  # closed unread: the body is not the push's
                        status = resp.status_code
            except httpx.HTTPError as exc:
                raise PushFailed("timeout" if deadline.expired else type(exc).__name__) from None
        if deadline.expired:
            raise PushFailed("timeout")
        if status >= 300:
            raise PushFailed(f"HTTP {status}")


class AlertPusher:
    """The background sender of one gateway process; ``stop()`` joins it."""

    def __init__(
        self,
        box: Outbox,
        channels: Sequence[AlertChannel],
        *,
        attempts: int = 8,
        backoff: float = 2.0,
        max_backoff: float = 300.0,
        idle_s: float = 5.0,
    ) -> None:
        if attempts < 1:
            raise ValueError("alert push attempts must be at least 1")
        self.outbox = box
        self.channels = {c.name: c for c in channels}
        self.attempts, self.backoff, self.max_backoff = attempts, backoff, max_backoff
        self.idle_s = idle_s
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="sluice-alert-push", daemon=True)

    def start(self) -> AlertPusher:
        if self.channels:
            self._thread.start()
        return self

    def wake(self) -> None:
        """Something was queued: look now rather than at the next due time."""
        self._wake.set()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread.is_alive():
            self._thread.join(timeout=15)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.tick()
            except Exception as exc:  # keep sending; the outbox keeps what is owed
                log.warning("alert_push_loop_failed", error=type(exc).__name__)
            due = self.outbox.next_due(self.channels)
            wait = self.idle_s if due is None else min(self.idle_s, due - time.time())
            if wait > 0:
                self._wake.wait(wait)
            self._wake.clear()

    def delay(self, attempt: int) -> float:
        """Seconds before the attempt after the ``attempt``-th failure."""
        return float(min(self.max_backoff, self.backoff * 2 ** (attempt - 1)))

    def tick(self) -> int:
        """Send every push due now; returns how many were delivered."""
        sent = 0
        for claimed in self.outbox.claim_due(self.channels):
            if self._stop.is_set():
                break
            # the claim renewed for this attempt, over its whole bound: the batch's claim
            # may have lapsed while the pushes before it were tried, and another sender
            # taken this one since; a claim shorter than the attempt lapsed mid-attempt
            channel = self.channels[claimed.channel]
            push = self.outbox.renew(claimed, bound_s=channel.timeout_s)
            if push is None:
                continue
            try:
                channel.send(push.alert)
            except PushFailed as exc:
                attempt = push.attempts + 1
                if attempt >= self.attempts:
                    self.outbox.failed(push, str(exc), retry_at=None)
                    log.error("alert_push_gave_up", alert=push.id, channel=push.channel,
                              attempts=attempt, error=str(exc))  # fmt: skip
                else:
                    self.outbox.failed(push, str(exc), retry_at=time.time() + self.delay(attempt))
                    log.warning("alert_push_failed", alert=push.id, channel=push.channel,
                                attempt=attempt, error=str(exc))  # fmt: skip
                continue
            self.outbox.delivered(push)
            log.info("alert_pushed", alert=push.id, rule=push.alert.get("rule"),
                     channel=push.channel)  # fmt: skip
            sent += 1
        return sent
