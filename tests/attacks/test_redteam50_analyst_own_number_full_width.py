"""Red team 50, as an analyst: your own record, typed by its department's clerk in
full-width digits.

Rule (red team 47's note, stop 37): a subject token, the own-records check, a ``hash``
token and a comparison's key of an ID-number field are made of the number spelt
canonically, so that a clerk's spelling does not make one person two
(``masking.id_spelling.canonical_id_number``: no white space, upper case).

Attack: a Chinese input method types full-width characters (``１１０１０１…``, a
full-width ``ｘ``); Python's ``upper`` keeps them full-width, so the canonical spelling
was still another person's. civil's roll holds dora's number so: she reads her own row
and the trail says ``self_hash_hit: false``, the token recorded for it no one an
officer can search for — red team 47's row again by another spelling.

Expected: the number is read as the digits it shows (Unicode compatibility form,
``NFKC``) before it is tokenised. On the embedded default and on PostgreSQL.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from gateway.enforcement.query.subjects import subject_token
from tests.attacks.redteam36 import (
    DIBAO,
    dibao_ids_body,
    dibao_number,
    query_completed,
    set_own_id_number,
)
from tests.attacks.respelt import respelt
from tests.gateway.demo_app import DemoGateway

BODY = dibao_ids_body("JW-RT50-WIDE", 20)


def full_width(number: str) -> str:
    """``number`` as a full-width input method types it (a lower-case check letter)."""
    return "".join(chr(ord(c) + 0xFEE0) for c in number.lower())


@pytest.fixture
def typed_wide(deployment: DemoGateway) -> Iterator[str]:
    """The roll's 4th row's number stored in full-width characters; its canonical
    spelling is given, the row restored after."""
    gw = deployment
    number = dibao_number(gw, 3)
    with respelt(gw.settings.demo_data_dir / "civil.db", "dibao_recipients", number,
                 full_width(number)):  # fmt: skip
        yield number


def test_your_own_record_typed_full_width_is_still_yours(
    deployment: DemoGateway, typed_wide: str
) -> None:
    gw = deployment
    set_own_id_number(gw, "dora", typed_wide)
    resp = gw.query("dora", DIBAO, BODY)
    assert resp.status_code == 200, resp.text[:300]
    details = query_completed(gw, resp.headers["X-Request-Id"])["details"]
    assert details["self_hash_hit"] is True, details.get("self_hash_hit")
    assert subject_token(gw.settings.home, typed_wide) in details["subject_tokens"]
