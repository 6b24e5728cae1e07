"""Red team 29, as a steward (or a partner source's column names), against the officers
who read alerts in their mail or their group chat.

Rule: an alert is pushed as one line of text (``[Sluice MEDIUM] rule (actor): summary —
alert id``) to the group robots (WeCom, DingTalk, Feishu) and as the first line of a
mail whose next lines are the alert's fields (``severity: …``, ``actor: …``); the mail's
subject is made one line, the rest was not. A summary names catalog text: the fields a
steward published below the classifier's suggestion are listed by name, and a field's
name is its source column's, as the partner's database spells it (only NUL and lone
surrogates are refused).

Attack: carl drafts an entry over a table of civil's database whose ID-number column is
named with a newline and a forged alert line after it, lowers that field below the
suggested level and publishes. The alert ``below_suggested_level`` is raised — but its
text pushed to the officers' chat is two lines, the second a forged "[Sluice LOW] …
resolved" line, and the mail's body has a forged ``severity: low`` line among its fields.
The same class as red team 24's terminal escapes (``gateway/cli/shown.py``), through the
alert channels.

On the embedded SQLite default and on PostgreSQL (``deployment``).
"""

from __future__ import annotations

from typing import Any

from audit.alert_email import EmailChannel
from audit.alert_push import alert_text, dingtalk_request
from tests.attacks.redteam29 import ENTRY, FORGED, published_below
from tests.gateway.demo_app import DemoGateway


def _the_alert(gw: DemoGateway) -> dict[str, Any]:
    resp = gw.client.get("/api/v1/audit/alerts", headers=gw.headers("sam"))
    assert resp.status_code == 200, resp.text
    found = [a for a in resp.json()["alerts"] if a.get("rule") == "below_suggested_level"
             and a.get("subject") == f"dataset:{ENTRY}"]  # fmt: skip
    assert found, "no below_suggested_level alert for the entry"
    return dict(found[0])


def test_a_column_name_forges_no_line_in_the_pushed_alert(deployment: DemoGateway) -> None:
    gw = deployment
    published_below(gw, FORGED)
    alert = _the_alert(gw)
    # the group robots' text: one line, nothing of the column's controls left raw
    line = alert_text(alert)
    assert "\n" not in line and "\r" not in line, line
    assert "\u2028" not in line and "\x1b" not in line, line
    _url, body, _headers = dingtalk_request("https://robot.invalid/send", None, alert)
    assert b"\\n[Sluice LOW]" not in body, body
    # the mail: the fields' lines are the gateway's, one severity only
    mail = EmailChannel(host="127.0.0.1", port=25, sender="sluice@gw.invalid",
                        recipients=["officers@gw.invalid"]).message(alert)  # fmt: skip
    content = mail.get_content()
    severities = [x for x in content.splitlines() if x.startswith("severity:")]
    assert severities == ["severity: medium"], content
    assert not any(x.startswith("[Sluice LOW]") for x in content.splitlines()), content
    assert "\x1b" not in content, content
