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
# line and paragraph separators, the bidirectional embeddings, overrides and isolates,
# which reverse the text after them on screen; and every character that shows nothing
# (Unicode's format characters and default-ignorable code points: the zero-width space
# and joiners, the soft hyphen, the byte-order mark, the direction marks, the word
# joiner and invisible operators, the Hangul fillers, the variation selectors, the tag
# characters that spell hidden ASCII), with which a case reference or a name looks like
# another (red team 62's left row); each use below keeps the few its reader needs.
# Inclusive ranges of code points.
CONTROLS = ((0x00, 0x1F), (0x7F, 0x9F), (0xAD, 0xAD), (0x34F, 0x34F), (0x600, 0x605),
            (0x61C, 0x61C), (0x6DD, 0x6DD), (0x70F, 0x70F), (0x890, 0x891), (0x8E2, 0x8E2),
            (0x115F, 0x1160), (0x17B4, 0x17B5), (0x180B, 0x180F), (0x200B, 0x200F),
            (0x2028, 0x202E), (0x2060, 0x206F), (0x3164, 0x3164), (0xFE00, 0xFE0F),
            (0xFEFF, 0xFEFF), (0xFFA0, 0xFFA0), (0xFFF0, 0xFFFB), (0x110BD, 0x110BD),
            (0x110CD, 0x110CD), (0x13430, 0x1343F), (0x1BCA0, 0x1BCA3), (0x1D173, 0x1D17A),
            (0xE0000, 0xE0FFF))  # fmt: skip


def shown_as(code: int) -> str:
    """One escaped character's text: ``\\uXXXX``, or ``\\UXXXXXXXX`` beyond the BMP."""
    return f"\\u{code:04x}" if code <= 0xFFFF else f"\\U{code:08x}"


def control_class(but: str = "") -> str:
    """A regular-expression class of ``CONTROLS``, less the characters of ``but``."""
    cuts = sorted(ord(c) for c in but)
    runs = []
    for low, high in CONTROLS:
        for cut in (c for c in cuts if low <= c <= high):
            if cut > low:
                runs.append(_run(low, cut - 1))
            low = cut + 1
        if low <= high:
            runs.append(_run(low, high))
    return "[" + "".join(runs) + "]"


def _run(low: int, high: int) -> str:
    first = re.escape(chr(low))
    return first if low == high else f"{first}-{re.escape(chr(high))}"


CONTROL = re.compile(control_class())  # one line of text
CONTROL_BUT_NEWLINE = re.compile(control_class("\n"))  # lines of text
# what a web page honours or hides but autoescaping leaves as it is: tab and line
# breaks are white space there (red team 61's left row)
IN_A_PAGE = re.compile(control_class("\t\n\r"))


def escape(found: re.Match[str]) -> str:
    """One control character as ``\\uXXXX`` (a ``re.sub`` replacement)."""
    return shown_as(ord(found.group()))


_SHOWN_AS = re.compile(r"\\u([0-9a-fA-F]{4})|\\U([0-9a-fA-F]{8})")


def unescaped(text: str) -> str:
    """``text`` with every ``\\uXXXX`` (``\\UXXXXXXXX``) that is how a control of
    ``CONTROLS`` is shown (``shown_as``) read back as the character: what a person copied
    off a page or a terminal, as the value it showed (any other escape stays as typed)."""

    def back(found: re.Match[str]) -> str:
        code = int(found.group(1) or found.group(2), 16)
        return chr(code) if any(low <= code <= high for low, high in CONTROLS) else found.group()

    return _SHOWN_AS.sub(back, text)


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
