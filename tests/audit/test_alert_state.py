"""Live alerts with state: pushed within seconds to a signed webhook, acknowledged and
resolved by a security officer through the API, every change on record first."""

from __future__ import annotations

import base64
import hashlib
import hmac
import queue
import time
import urllib.parse
from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest

from audit.alert_push import (
    dingtalk_request,
    dingtalk_sign,
    feishu_request,
    feishu_sign,
    generic_request,
    wecom_request,
)
from audit.search import EventFilter, list_events
from tests.audit.receivers import webhook_receiver
from tests.gateway.demo_app import demo_gateway

SECRET = "webhook-test-secret-123"
DIBAO = "civil.dibao_recipients"
ALERT = {"id": "abc123", "rule": "repeated_denials", "severity": "medium", "state": "open",
         "actor": "alice", "subject": "alice", "summary": "6 denials within an hour",
         "event_seqs": [1, 2], "window": "2026-12-03", "count": 1}  # fmt: skip


@pytest.fixture
def receiver() -> Iterator[tuple[str, queue.Queue[tuple[dict[str, str], bytes]]]]:
    with webhook_receiver() as hook:
        yield hook.url, hook.got


def test_denials_pushed_signed_then_acknowledged_and_resolved(
    tmp_path: Path, receiver: tuple[str, queue.Queue[tuple[dict[str, str], bytes]]]
) -> None:
    url, got = receiver
    with demo_gateway(tmp_path, alert_webhook_url=url, alert_webhook_secret=SECRET,
                      alert_eval_seconds=0.5) as gw:  # fmt: skip
        for _ in range(6):  # denials_per_hour is 5: the sixth fires
            resp = gw.query("alice", DIBAO, {"purpose": "curiosity", "case_ref": "JW-2026-001",
                                             "fields": ["region_code"]})  # fmt: skip
            assert resp.status_code == 403, resp.text

        deadline, pushed = time.monotonic() + 10, None
        while time.monotonic() < deadline:
            try:
                headers, body = got.get(timeout=0.5)
            except queue.Empty:
                continue
            if orjson.loads(body)["alert"]["rule"] == "repeated_denials":
                pushed = (headers, body)
                break
        assert pushed is not None, "no repeated_denials alert pushed within seconds"
        headers, body = pushed
        expected = hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
        sig = {k.lower(): v for k, v in headers.items()}["x-sluice-signature"]
        assert hmac.compare_digest(sig, f"sha256={expected}")
        alert_id = orjson.loads(body)["alert"]["id"]

        listed = gw.client.get("/api/v1/audit/alerts", headers=gw.headers("sam"))
        assert listed.status_code == 200, listed.text
        mine = [a for a in listed.json()["alerts"] if a["id"] == alert_id]
        assert len(mine) == 1
        assert mine[0]["state"] == "open" and mine[0]["actor"] == "alice"
        assert {"rule", "severity", "summary", "event_seqs", "count"} <= set(mine[0])

        base = f"/api/v1/audit/alerts/{alert_id}"
        # analysts may neither read nor act on alerts
        assert gw.client.get("/api/v1/audit/alerts", headers=gw.headers("alice")).status_code == 403
        denied = gw.client.post(f"{base}/resolve", json={"note": "mine"},
                                headers=gw.headers("alice"))  # fmt: skip
        assert denied.status_code == 403
        unknown = gw.client.post("/api/v1/audit/alerts/0000deadbeef/acknowledge",
                                 json={"note": "?"}, headers=gw.headers("sam"))  # fmt: skip
        assert unknown.status_code == 404, unknown.text

        ack = gw.client.post(f"{base}/acknowledge", json={"note": "calling alice"},
                             headers=gw.headers("sam"))  # fmt: skip
        assert ack.status_code == 200, ack.text
        assert ack.json()["state"] == "acknowledged"
        res = gw.client.post(f"{base}/resolve", json={"note": "wrong purpose, trained"},
                             headers=gw.headers("sam"))  # fmt: skip
        assert res.status_code == 200, res.text
        again = gw.client.post(f"{base}/resolve", json={"note": "again"},
                               headers=gw.headers("sam"))  # fmt: skip
        assert again.status_code == 409, again.text

        after = gw.client.get("/api/v1/audit/alerts", headers=gw.headers("sam")).json()["alerts"]
        state = next(a for a in after if a["id"] == alert_id)
        assert state["state"] == "resolved"
        assert [(h["kind"], h["by"], h["note"]) for h in state["history"]] == [
            ("acknowledged", "sam", "calling alice"),
            ("resolved", "sam", "wrong purpose, trained"),
        ]
        for etype, note in (("alert.acknowledged", "calling alice"),
                            ("alert.resolved", "wrong purpose, trained")):  # fmt: skip
            items = list_events(store=gw.services.audit.store,
                                filters=EventFilter(type=etype), limit=10)["items"]  # fmt: skip
            assert len(items) == 1, etype
            assert items[0]["actor"]["sub"] == "sam"
            assert items[0]["details"]["alert_id"] == alert_id
            assert items[0]["details"]["note"] == note
        # pushed once: a later tick does not send the same id again
        time.sleep(1.2)
        while not got.empty():
            assert orjson.loads(got.get()[1])["alert"]["id"] != alert_id


def test_generic_payload_signed() -> None:
    url, body, headers = generic_request("http://h/x", SECRET, ALERT)
    assert url == "http://h/x"
    assert orjson.loads(body)["alert"]["id"] == "abc123"
    digest = hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
    assert headers["X-Sluice-Signature"] == f"sha256={digest}"
    assert SECRET not in body.decode()
    assert "X-Sluice-Signature" not in generic_request("http://h/x", None, ALERT)[2]


def test_wecom_payload() -> None:
    url, body, _ = wecom_request("https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=k",
                                 SECRET, ALERT)  # fmt: skip
    payload = orjson.loads(body)
    assert payload["msgtype"] == "text"
    assert "repeated_denials" in payload["text"]["content"]
    assert "abc123" in payload["text"]["content"]
    assert url.endswith("key=k")


def test_dingtalk_payload_and_sign() -> None:
    ts = 1700000000000
    mac = hmac.new(SECRET.encode(), f"{ts}\n{SECRET}".encode(), hashlib.sha256).digest()
    expected = urllib.parse.quote_plus(base64.b64encode(mac).decode())
    assert dingtalk_sign(SECRET, ts) == expected
    url, body, _ = dingtalk_request("https://oapi.dingtalk.com/robot/send?access_token=t",
                                    SECRET, ALERT, now_ms=ts)  # fmt: skip
    query = urllib.parse.parse_qs(urllib.parse.urlsplit(url).query)
    assert query["access_token"] == ["t"] and query["timestamp"] == [str(ts)]
    assert query["sign"] == [base64.b64encode(mac).decode()]  # urldecoded once by the server
    payload = orjson.loads(body)
    assert payload["msgtype"] == "text" and "repeated_denials" in payload["text"]["content"]


def test_feishu_payload_and_sign() -> None:
    ts = 1700000000
    key = f"{ts}\n{SECRET}".encode()
    expected = base64.b64encode(hmac.new(key, b"", hashlib.sha256).digest()).decode()
    assert feishu_sign(SECRET, ts) == expected
    _, body, _ = feishu_request("https://open.feishu.cn/open-apis/bot/v2/hook/x", SECRET, ALERT,
                                now_s=ts)  # fmt: skip
    payload = orjson.loads(body)
    assert payload["timestamp"] == str(ts) and payload["sign"] == expected
    assert payload["msg_type"] == "text" and "repeated_denials" in payload["content"]["text"]
    assert SECRET not in body.decode()
