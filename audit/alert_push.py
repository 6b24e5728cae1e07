"""Push new alerts to a webhook, off the request path.

A background thread evaluates the rules (``audit.alert_state.current_alerts``) every
``interval`` seconds; each alert id it has not pushed before is posted once (retried
with back-off) and marked ``pushed`` in the alert state file, so a restart does not
push it again. Flavors:

- ``generic``: the alert as JSON, ``X-Sluice-Signature: sha256=<hex HMAC-SHA256 of the
  body under the secret>``;
- ``wecom``: ``{"msgtype": "text", "text": {"content": …}}`` (the key is in the URL);
- ``dingtalk``: the same body; with a secret, ``timestamp`` (ms) and ``sign`` =
  urlencode(base64(HMAC-SHA256(secret, "timestamp\\nsecret"))) as query parameters;
- ``feishu``: ``{"timestamp", "sign", "msg_type": "text", "content": {"text": …}}``,
  sign = base64(HMAC-SHA256(key="timestamp\\nsecret", msg="")).

The secret is never logged (nor the URL, which for robots carries a key).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import threading
import time
import urllib.parse
from collections.abc import Callable
from typing import Any

import httpx
import orjson
import structlog

from audit.alert_state import alert_states, current_alerts

FLAVORS = ("generic", "wecom", "dingtalk", "feishu")
log = structlog.get_logger("sluice.alerts")

Request = tuple[str, bytes, dict[str, str]]  # url, body, headers


def alert_text(alert: dict[str, Any]) -> str:
    who = f" ({alert['actor']})" if alert.get("actor") else ""
    return (f"[Sluice {alert.get('severity', '').upper()}] {alert.get('rule')}{who}: "
            f"{alert.get('summary')} — alert {alert.get('id')}")  # fmt: skip


def _json(body: Any) -> tuple[bytes, dict[str, str]]:
    return orjson.dumps(body), {"Content-Type": "application/json"}


def generic_request(url: str, secret: str | None, alert: dict[str, Any]) -> Request:
    fields = ("id", "rule", "severity", "state", "actor", "subject", "summary", "event_seqs",
              "window", "count")  # fmt: skip
    body, headers = _json({"source": "sluice", "alert": {k: alert.get(k) for k in fields}})
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
    payload.update({"msg_type": "text", "content": {"text": alert_text(alert)}})
    body, headers = _json(payload)
    return url, body, headers


BUILDERS: dict[str, Callable[[str, str | None, dict[str, Any]], Request]] = {
    "generic": generic_request,
    "wecom": wecom_request,
    "dingtalk": dingtalk_request,
    "feishu": feishu_request,
}


class AlertPusher:
    """The background evaluator and sender of one gateway; ``stop()`` joins it."""

    def __init__(
        self,
        audit_log: Any,
        *,
        url: str,
        secret: str | None,
        flavor: str = "generic",
        interval: float = 2.0,
        attempts: int = 4,
        backoff: float = 0.5,
    ) -> None:
        if flavor not in BUILDERS:
            raise ValueError(f"alert webhook flavor must be one of {FLAVORS}: {flavor!r}")
        self.audit_log = audit_log
        self.url, self.secret, self.flavor = url, secret, flavor
        self.interval, self.attempts, self.backoff = interval, attempts, backoff
        self.states = alert_states(audit_log.home)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="sluice-alert-push", daemon=True)

    def start(self) -> AlertPusher:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=10)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.tick()
            except Exception as exc:  # keep evaluating; the next tick retries
                log.warning("alert_evaluation_failed", error=type(exc).__name__)
            self._stop.wait(self.interval)

    def tick(self) -> int:
        """Evaluate once; push every alert not pushed before. Returns how many went."""
        done = self.states.pushed()
        sent = 0
        for alert in current_alerts(self.audit_log):
            if alert["id"] in done or alert["state"] != "open" or self._stop.is_set():
                continue
            ok = self.send(alert)
            self.states.mark_pushed(alert["id"], delivered=ok)
            sent += ok
        return sent

    def send(self, alert: dict[str, Any]) -> bool:
        for attempt in range(self.attempts):
            url, body, headers = BUILDERS[self.flavor](self.url, self.secret, alert)
            try:
                resp = httpx.post(url, content=body, headers=headers, timeout=5.0)
                if resp.status_code < 300:
                    log.info("alert_pushed", alert=alert["id"], rule=alert["rule"],
                             flavor=self.flavor)  # fmt: skip
                    return True
                error = f"HTTP {resp.status_code}"
            except httpx.HTTPError as exc:
                error = type(exc).__name__
            log.warning("alert_push_failed", alert=alert["id"], attempt=attempt + 1, error=error)
            if self._stop.wait(self.backoff * 2**attempt):
                break
        return False


def start_alert_pusher(settings: Any, audit_log: Any) -> Callable[[], None]:
    """Start the pusher when a webhook is configured; returns its stop (a no-op if not)."""
    if audit_log is None or not settings.alert_webhook_url:
        return lambda: None
    secret = settings.alert_webhook_secret
    pusher = AlertPusher(
        audit_log,
        url=settings.alert_webhook_url,
        secret=secret.get_secret_value() if secret is not None else None,
        flavor=settings.alert_webhook_flavor,
        interval=settings.alert_eval_seconds,
    ).start()
    return pusher.stop
