"""The column names the gateway itself puts beside a source's fields, in one list.

A read carries columns of the gateway's own next to the fields it reads: a comparison
side's subject tokens (``SUBJECT_COLUMN``: whom its hits name on the trail), a Spark
side's counties (``SPARK_COUNTY``: the per-county bound and the trail's counties), an
aggregate answer's withheld groups (``SUPPRESSED``). A source column of the same name
stood beside them: the trail read a steward's values as the people a comparison matched
(red team 37), and an aggregate grouped on it was a 500 (red team 38). The catalog takes
no new field so named, nor any starting with ``RESERVED_PREFIX`` (room for the
gateway's next column); the read paths refuse the ones that collide with a side's
(``read_time_refused``), for entries published before this rule.
"""

from __future__ import annotations

RESERVED_PREFIX = "__"
SUBJECT_COLUMN = "__subject_token"
SPARK_COUNTY = "__county"
SUPPRESSED = "_suppressed"
GATEWAY_COLUMNS = frozenset({SUBJECT_COLUMN, SPARK_COUNTY, SUPPRESSED})


def is_reserved(name: str) -> bool:
    """Whether a field may not take ``name``: one of the gateway's own column names, or
    any name under its prefix."""
    return name.startswith(RESERVED_PREFIX) or name in GATEWAY_COLUMNS


def read_time_refused(name: str) -> bool:
    """Whether a field of an entry published before this rule makes the entry unreadable:
    named like a column a comparison side carries beside the source's (its subject
    tokens, ``__subject_token_<n>`` of each further ID-number field on Spark, Spark's
    counties), where the engine would take one for the other (red teams 37 and 40)."""
    return name.startswith(SUBJECT_COLUMN) or name == SPARK_COUNTY
