"""Red team 52, as an analyst: your own record, typed by its department's clerk with
hyphens between the number's groups, or pasted with a zero-width space in it.

Rule (red teams 47 and 50, stop 37): a subject token, the own-records check, a ``hash``
token and a comparison's key of an ID-number field are made of the number spelt
canonically, so that a clerk's spelling does not make one person two
(``masking.id_spelling.canonical_id_number``: compatibility form, no white space, upper
case).

Attack: the groups of a number are as often joined by hyphens as by spaces
(``430121-19900101-123X``, the way forms print them), and a number copied from a web page
or a word processor carries characters that show nothing — a zero-width space (U+200B),
a soft hyphen (U+00AD), a byte-order mark (U+FEFF) — none of which is white space to
Python nor changed by ``NFKC``. civil's roll holds dora's number so: she reads her own
rows and the trail says ``self_hash_hit: false``, the subject token recorded for them no
one an officer can search for (and the payroll's token of her number is not the roll's:
a comparison misses her) — red team 47's and 50's row again by other spellings.

Expected: the number's separators and invisible characters are dropped before it is
tokenised. On the embedded default and on PostgreSQL.
"""

from __future__ import annotations

import pytest

from tests.attacks.respelt import own_record_is_yours
from tests.gateway.demo_app import DemoGateway


def hyphenated(number: str) -> str:
    """``number`` as a form prints it: ``430121-19900101-123X``."""
    return f"{number[:6]}-{number[6:14]}-{number[14:]}"


def pasted(number: str) -> str:
    """``number`` pasted from a web page: a zero-width space, a soft hyphen and a
    byte-order mark between its groups, invisible on screen."""
    return f"{number[:6]}\u200b{number[6:14]}\u00ad{number[14:]}\ufeff"


@pytest.mark.parametrize("spell", [hyphenated, pasted], ids=["hyphens", "zero-width"])
def test_your_own_record_typed_with_separators_is_still_yours(
    deployment: DemoGateway, spell: object
) -> None:
    assert callable(spell)
    own_record_is_yours(deployment, spell, f"JW-RT52-{spell.__name__.upper()}")
