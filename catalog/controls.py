"""Control characters in catalog text, escaped where the text is read as lines.

A steward's titles, a partner source's column names and comments, an administrator's
display names are stored as given (only NUL and lone surrogates are refused). Wherever
such text is shown as lines of text — the operator's terminal (``gateway/cli/shown.py``,
red team 24), an alert pushed to a mail or a group robot (``audit.alert_push``, red
team 29) — a newline among it forges a line, and an escape sequence acts on the
reader's terminal. ``json.dumps`` escapes C0 controls but leaves C1 (U+0080..U+009F,
the 8-bit CSI among them), the line and paragraph separators and the bidirectional
overrides; this escapes them all as ``\\uXXXX``.
"""

from __future__ import annotations

import re
from typing import Any

CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")
CONTROL_BUT_NEWLINE = re.compile(
    r"[\x00-\x09\x0b-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]"
)


def escape(found: re.Match[str]) -> str:
    """One control character as ``\\uXXXX`` (a ``re.sub`` replacement)."""
    return f"\\u{ord(found.group()):04x}"


def one_line(value: Any) -> str:
    """``value`` as text on one line, every control character as ``\\uXXXX``."""
    return CONTROL.sub(escape, value if isinstance(value, str) else str(value))
