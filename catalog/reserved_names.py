"""The column names the gateway itself puts beside a source's fields, in one list.

A read carries columns of the gateway's own next to the fields it reads: a comparison
side's subject tokens (``SUBJECT_COLUMN``: whom its hits name on the trail), an
aggregate answer's withheld groups (``SUPPRESSED``). A source column of the same name
stood beside them: the trail read a steward's values as the people a comparison matched
(red team 37), and an aggregate grouped on it was a 500 (red team 38). The catalog takes
no new field so named, nor any starting with ``RESERVED_PREFIX`` (room for the
gateway's next column); the read paths refuse the one that collides with theirs, for
entries published before this rule.
"""

from __future__ import annotations

RESERVED_PREFIX = "__"
SUBJECT_COLUMN = "__subject_token"
SUPPRESSED = "_suppressed"
GATEWAY_COLUMNS = frozenset({SUBJECT_COLUMN, SUPPRESSED})


def is_reserved(name: str) -> bool:
    """Whether a field may not take ``name``: one of the gateway's own column names, or
    any name under its prefix."""
    return name.startswith(RESERVED_PREFIX) or name in GATEWAY_COLUMNS
