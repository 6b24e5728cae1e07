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

from tests.attacks.respelt import grouped, own_record_is_yours
from tests.gateway.demo_app import DemoGateway


def test_your_own_record_spelt_apart_is_still_yours(deployment: DemoGateway) -> None:
    own_record_is_yours(deployment, grouped, "JW-RT47-SPELT")
