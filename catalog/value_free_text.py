"""The words of a message before it names a value.

Drivers, parsers and libraries put the value they choked on into their messages
(``invalid input syntax for type integer: "430121… 李四"``, ``Incorrect integer value:
'…' for column``, ``could not read row 430121…``). Where such a message goes to someone
who may not see the value — an analyst's 502 and the trail (``adapters.read_errors``),
an operator's log (``gateway.core.log_exceptions``) — only its head is kept: the words
before the first quote or colon of its first line, with every run of
digits of four or more and every non-ASCII run cut (an ID number, a phone, a card, a
name in a message that names no quote at all). Messages of our own are English: what
is cut there is data, not words.
"""

from __future__ import annotations

import re

_VALUE_START = re.compile(r"""['"`:]""")
_DIGITS = re.compile(r"[0-9][0-9Xx]{3,}")
_NON_ASCII = re.compile(r"[^\x00-\x7f]+")
MAX_CHARS = 120
CUT = "…"


def head_words(text: str) -> tuple[str, bool]:
    """The message's head, and whether words after it were dropped."""
    lines = text.strip().splitlines()
    first = lines[0] if lines else ""
    words = _VALUE_START.split(first, maxsplit=1)
    head = _NON_ASCII.sub(CUT, _DIGITS.sub(CUT, words[0]))
    head = " ".join(head.split())
    cut = len(words) > 1 or len(lines) > 1  # runs cut inside the head show as "…" there
    if len(head) > MAX_CHARS:
        head, cut = head[:MAX_CHARS], True
    return head, cut
