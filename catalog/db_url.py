"""The file a plain SQLite URL names, read without SQLAlchemy.

The embedded default is ``sqlite:///<home>/sluice.db``. The quick commands (``sluice
token``) and the audit store only need that file's path, and importing SQLAlchemy to
parse it cost a third of ``sluice token``'s start-up (issue 17). Only the plain form is
read here; anything else (a query string, percent escapes, ``:memory:``, another
driver) returns None and the caller asks ``sqlalchemy.engine.make_url`` as before, so
the two never disagree (``tests/catalog/test_db_url.py`` holds this one to it).
"""

from __future__ import annotations

import re

# what make_url puts in ``database`` for these URLs verbatim: everything after the
# third slash (no query, fragment, escapes or control characters to interpret)
_PLAIN_SQLITE = re.compile(r"sqlite(?:\+pysqlite)?:///([^?#%\x00-\x1f\x7f]+)")


def sqlite_file(url: str) -> str | None:
    """The database file of a plain ``sqlite:///PATH`` URL as SQLAlchemy reads it
    (``make_url(url).database``); None when the URL is anything else."""
    match = _PLAIN_SQLITE.fullmatch(url)
    if match is None or match.group(1) == ":memory:":
        return None
    return match.group(1)
