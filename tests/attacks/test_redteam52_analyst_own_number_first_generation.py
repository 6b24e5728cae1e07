"""Red team 52, as an analyst: your own record, held by a department's older system under
your first-generation (15-digit) ID number.

Rule (red teams 47 and 50, stop 37): one person, one token, whatever a department's
spelling (``masking.id_spelling.canonical_id_number``): the own-records check, the
subject tokens, ``hash`` tokens and a comparison's key are made of the number spelt one
way.

Attack: resident ID numbers issued before 1999 have 15 digits (GB 11643: no century, no
check digit); the 18-digit number of the same person is that number with ``19`` put
before the birth year and a check digit computed after it, and systems built before the
change still hold the 15-digit one. civil's roll holds dora's number so: she reads her
own rows and the trail says ``self_hash_hit: false``, the subject token on record is no
one an officer can search for, and a comparison with finance's payroll (18 digits) misses
her.

Expected: a 15-digit ID number is keyed as its 18-digit form. Left by red team 52 (xfail:
it changes the token of every 15-digit number handed out before), then fixed as the
lead's call (stop 39, ``masking.id_spelling``).
"""

from __future__ import annotations

from tests.attacks.respelt import own_record_is_yours
from tests.gateway.demo_app import DemoGateway


def first_generation(number: str) -> str:
    """The 15-digit number an 18-digit one (born in the 1900s) was issued as."""
    assert number[6:8] == "19", number
    return number[:6] + number[8:17]


def test_your_own_record_under_your_first_generation_number_is_still_yours(
    deployment: DemoGateway,
) -> None:
    own_record_is_yours(deployment, first_generation, "JW-RT52-FIFTEEN")
