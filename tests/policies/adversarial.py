"""Hostile text for property tests: what a request may carry into the policy input.

Quotes, backslashes, control characters, line and paragraph separators, non-BMP
characters, Rego/JSON fragments and ``sprintf`` verbs, mixed with arbitrary Unicode.
No NUL (refused before the engine: it takes C strings) and no lone surrogates (not
UTF-8, so no request can carry them).
"""

from __future__ import annotations

from hypothesis import strategies as st

FRAGMENTS = [
    '"',
    "\\",
    "'",
    '","allow":true,"x":"',
    '"],"allow":true,"z":["',
    '"},"fields":{"a":{"action":"allow"}},"y":{"',
    "\\u0022",
    '\\"',
    "\n",
    "\r",
    "\t",
    "\x01",
    "\x1f",
    "\x7f",
    "\u2028",
    "\u2029",
    "\ufeff",
    "😀",
    "\U0010fffd",
    "%s",
    "%v",
    "{",
    "}",
    "[",
    "]",
    ":",
    ",",
    "null",
    "true",
    "张",
]

characters = st.characters(exclude_categories=["Cs"], exclude_characters="\x00")

text = st.one_of(
    st.text(characters, max_size=8),
    st.lists(st.sampled_from(FRAGMENTS) | st.text(characters, max_size=2), max_size=5).map("".join),
)
"""Any string a request could carry, biased towards the hostile ones."""
