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

from tests.attacks.respelt import own_record_is_yours
from tests.gateway.demo_app import DemoGateway


def full_width(number: str) -> str:
    """``number`` as a full-width input method types it (a lower-case check letter)."""
    return "".join(chr(ord(c) + 0xFEE0) for c in number.lower())


def test_your_own_record_typed_full_width_is_still_yours(deployment: DemoGateway) -> None:
    own_record_is_yours(deployment, full_width, "JW-RT50-WIDE")
