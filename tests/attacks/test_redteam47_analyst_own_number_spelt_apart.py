"""Red team 47's note, as an analyst: your own record, spelt by its department apart.

Rule (red team 36, DESIGN.md's alerts): a read of one's own record is flagged on the
trail (``self_hash_hit``, the own-records alert), and each person read is recorded as a
keyed subject token ("who looked up whom"). The user's own token, and the token an
officer searches by, are taken from the number spelt canonically (no white space, an
upper-case ``X``: ``subjects.canonical_id_number``).

Attack: the sources' values were tokenised as stored. civil's roll holds dora's number
grouped with spaces (``110101 19900101 1234``, as a clerk typed it; a lower-case check
digit reads the same): dora reads her own row and the trail says ``self_hash_hit:
false``, and the token recorded for that row is no one an officer can search for.

Expected: the values are spelt canonically before they are tokenised, for the subject
tokens as for the own-records check. On the embedded default and on PostgreSQL.
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
from tests.attacks.respelt import grouped, respelt
from tests.gateway.demo_app import DemoGateway

BODY = dibao_ids_body("JW-RT47-SPELT", 20)


@pytest.fixture
def spelt_apart(deployment: DemoGateway) -> Iterator[str]:
    """The roll's 4th row's number, stored grouped with spaces (and a lower-case check
    digit if it has one); its canonical spelling is given, the row restored after."""
    gw = deployment
    number = dibao_number(gw, 3)
    with respelt(gw.settings.demo_data_dir / "civil.db", "dibao_recipients", number,
                 grouped(number)):  # fmt: skip
        yield number


def test_your_own_record_spelt_apart_is_still_yours(
    deployment: DemoGateway, spelt_apart: str
) -> None:
    gw = deployment
    set_own_id_number(gw, "dora", spelt_apart)
    resp = gw.query("dora", DIBAO, BODY)
    assert resp.status_code == 200, resp.text[:300]
    details = query_completed(gw, resp.headers["X-Request-Id"])["details"]
    assert details["self_hash_hit"] is True, details.get("self_hash_hit")
    assert subject_token(gw.settings.home, spelt_apart) in details["subject_tokens"]
