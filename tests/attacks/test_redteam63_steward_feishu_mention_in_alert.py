"""Red team 63's left row 3, as a steward (or a partner's DBA naming a column), against
the officers' Feishu group.

Rule: an alert pushed to a group robot is text the gateway wrote around catalog text
(red team 29: one line, controls escaped). A Feishu robot's ``text`` message is not only
text: ``<at user_id="all">…</at>`` in it mentions everyone in the group (and
``<at user_id="ou_…">`` one person), so catalog text could make the push page the whole
officers' group, or a person the steward chose, under the gateway's name.

Attack: carl publishes an entry over a table whose ID-number column is named with a
Feishu mention of everyone, that field lowered below the classifier's suggestion: the
``below_suggested_level`` alert names the column.

Expected: the Feishu message holds no ``<at`` tag (the column's name still readable);
on the embedded default and on PostgreSQL.
"""

from __future__ import annotations

import orjson

from audit.alert_push import feishu_request
from tests.attacks.redteam29 import published_below
from tests.attacks.test_redteam29_steward_alert_text_lines import _the_alert
from tests.gateway.demo_app import DemoGateway

COLUMN = 'id_no<at user_id="all">所有人</at>'


def test_a_column_name_mentions_nobody_in_a_feishu_push(deployment: DemoGateway) -> None:
    gw = deployment
    published_below(gw, COLUMN)
    alert = _the_alert(gw)
    _url, body, _headers = feishu_request("https://open.feishu.invalid/hook/x", "s" * 16, alert)
    text = orjson.loads(body)["content"]["text"]
    assert "<at" not in text.lower(), text
    assert 'id_no＜at user_id="all">所有人＜/at>' in text, text
