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
from collections.abc import MutableMapping
from typing import Any

# every character escaped somewhere: C0 and C1 controls (U+009B is an 8-bit CSI), the
# line and paragraph separators, and the bidirectional embeddings, overrides and
# isolates, which reverse the text after them on screen; each use below keeps the few
# its reader needs as they are
CONTROLS = (*range(0x00, 0x20), *range(0x7F, 0xA0), 0x2028, 0x2029, *range(0x202A, 0x202F),
            *range(0x2066, 0x206A))  # fmt: skip


def control_class(but: str = "") -> str:
    """A regular-expression class of ``CONTROLS``, less the characters of ``but``."""
    return "[" + "".join(re.escape(chr(c)) for c in CONTROLS if chr(c) not in but) + "]"


CONTROL = re.compile(control_class())  # one line of text
CONTROL_BUT_NEWLINE = re.compile(control_class("\n"))  # lines of text
# what a web page honours or hides but autoescaping leaves as it is: tab and line
# breaks are white space there (red team 61's left row)
IN_A_PAGE = re.compile(control_class("\t\n\r"))
# each as ``\uXXXX`` (``str.translate``: ``markupsafe.Markup`` keeps itself markup)
IN_A_PAGE_ESCAPED = {c: f"\\u{c:04x}" for c in CONTROLS if chr(c) not in "\t\n\r"}


def escape(found: re.Match[str]) -> str:
    """One control character as ``\\uXXXX`` (a ``re.sub`` replacement)."""
    return f"\\u{ord(found.group()):04x}"


def escaped_controls(_logger: Any, _name: str, event: MutableMapping[str, Any]) -> Any:
    """A structlog processor before the renderer: every text value's controls but the
    line breaks as ``\\uXXXX``. A failure's head (``gateway.core.log_exceptions``) and
    the values a line names quote what a database or a client said — an insider's
    trigger message held ``ESC[1A ESC[2K``, and the development renderer wrote it raw
    to the terminal ``sluice serve`` or a ``sluice`` command runs in (red team 62); JSON
    escapes C0 but not C1 or the bidi overrides."""
    for key, value in event.items():
        if isinstance(value, str):
            event[key] = lines_shown(value)
    return event


def lines_shown(text: str) -> str:
    """``text`` as lines of text, every control character but the line break as
    ``\\uXXXX``."""
    return CONTROL_BUT_NEWLINE.sub(escape, text)


def one_line(value: Any) -> str:
    """``value`` as text on one line, every control character as ``\\uXXXX``."""
    return CONTROL.sub(escape, value if isinstance(value, str) else str(value))
