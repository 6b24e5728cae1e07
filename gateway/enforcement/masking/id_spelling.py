"""Resident ID numbers in one spelling, before anything is keyed by them.

A department's clerk groups a number with spaces (``110101 19900101 123x``) or types a
lower-case check digit; another department stores the same number canonically. Keyed
as stored, one person was two: a comparison between the two missed them, their ``hash``
tokens disagreed, and their subject tokens were no one an officer could search for (red
team 47's note, stop 37). So every token of a field classed as an ID number
(``catalog.vocabulary.PICategory.ID_NUMBER``) — the ``hash`` mask, a comparison's key,
a subject token, on the small answer's, the Arrow and the Spark paths alike — is made of
its canonical spelling: no white space, upper case, a full-width digit as its ASCII one
(red team 50). A canonical value is unchanged, so its token is the one it always had;
only odd spellings change.

A first-generation number (15 digits, issued before 1999: no century, no check digit;
GB 11643) is keyed as the 18-digit number the same person holds now: ``19`` before the
birth year, the check digit after (``stdnum.cn.ric``). Keyed as held, a department's
older system made its holder another person to the own-records check, the subject
tokens, ``hash`` and a comparison's key (red team 52: dora read her own dibao rows, and
a comparison with the payroll's 18-digit numbers missed her). The lead's call (stop
39): the tokens of 15-digit numbers handed out before change once, to their holders'
18-digit tokens — a case's earlier exports name those people under a token no later
read gives, and the comparisons find them; an 18-digit number's token is unchanged.

Other fields are never re-spelt here (a name, a code, a free text keep their spaces and
case); ``tokens.canonical_spelling`` is the older, narrower rule for every value (an
18-character number with a lower-case ``x``), which this one includes.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable

import pyarrow as pa
import pyarrow.compute as pc
from stdnum.cn import ric


def canonical_id_number(id_number: str) -> str:
    """An ID number as typed (``x`` for the check digit ``X``, groups with spaces or
    hyphens, full-width digits, invisible characters pasted with it) spelled as the
    sources and a user's own token hold it: its compatibility form (``NFKC``: a Chinese
    input method's ``１１０１０１…ｘ`` is ``110101…x``, red team 50), no white space, no
    dash (``430121-19900101-123X``, as forms print it) and no format character (a
    zero-width space, a soft hyphen, a byte-order mark copied from a web page: none is
    white space to Python; red team 52), upper case. A resident ID number is digits and
    a check letter: what is dropped never told two people apart."""
    if id_number.isascii() and id_number.isalnum():
        # what almost every source holds: NFKC leaves ASCII as it is and no letter or
        # digit is dropped, so only the case can change (per character, the general
        # path below cost a small answer of twenty numbers ~0.1 ms, 3% of its CPU)
        return _second_generation(id_number.upper())
    spelt = unicodedata.normalize("NFKC", id_number)
    return _second_generation("".join(c for c in spelt if not _dropped(c)).upper())


def _second_generation(number: str) -> str:
    """A 15-digit number as its 18-digit form (module doc); any other value as it is."""
    if len(number) != 15 or not (number.isascii() and number.isdigit()):
        return number
    body = f"{number[:6]}19{number[6:]}"
    return body + ric.calc_check_digit(body + "0")  # it drops the last digit, the check's place


_DROPPED = frozenset({"Pd", "Cf"})  # dashes; format characters (zero-width, soft hyphen)


def _dropped(char: str) -> bool:
    return char.isspace() or unicodedata.category(char) in _DROPPED


def canonical_id_numbers(values: Iterable[str | None]) -> list[str | None]:
    """``canonical_id_number`` of each of a few Python values (nulls stay None)."""
    return [None if v is None else canonical_id_number(v) for v in values]


# what ``canonical_id_number`` may change: a number of exactly 15 ASCII digits (made
# 18), Python's white space (``str.isspace``), the ASCII hyphen, a lower-case letter, or
# anything outside ASCII (``NFKC`` and ``upper``
# change many characters, some of no letter category: ``ⓐ``, ``ⅰ``, a full-width digit;
# a dash or a format character is dropped); the values a source holds spelt so are few,
# and re-spelt one by one by the function itself
_NOT_CANONICAL = r"[\t-\r\x{1c}-\x{20}\-]|\p{Ll}|\p{Lt}|[^\x{00}-\x{7f}]|^[0-9]{15}$"


def canonical_column(values: pa.Array) -> pa.Array:
    """A text column of ID numbers (``string`` or ``large_string``) spelt as
    ``canonical_id_number`` spells one, nulls kept. Canonical values pass unchanged (one
    regex pass: the column itself when none is odd)."""
    odd = pc.fill_null(pc.match_substring_regex(values, _NOT_CANONICAL), False)
    if not pc.any(odd).as_py():
        return values
    fixed = [canonical_id_number(v) for v in pc.filter(values, odd).to_pylist()]
    return pc.replace_with_mask(values, odd, pa.array(fixed, values.type))
