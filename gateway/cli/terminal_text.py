"""A query's text result written to the analyst's terminal, its controls escaped.

``sluice query`` without ``--out`` writes the result to standard output. To a file or a
pipe the bytes stay exactly as the gateway sent them; on a terminal (the binary formats
are refused there) the terminal interprets them: a partner source's value holding an
escape sequence — an OSC 52 clipboard write, a CSI erasing a line of the result, a bare
carriage return — ran in the analyst's terminal. JSON escapes C0 controls but not C1
(U+009B is a CSI) and CSV escapes nothing (red team 59). Here every control character
but a line break (``\\n``, ``\\r\\n``) and a tab is shown as ``\\uXXXX``, as
``gateway.cli.shown`` shows catalog text.
"""

from __future__ import annotations

import codecs
import re
from typing import IO

from catalog.controls import control_class, escape

# the controls but the line break and the tab; a CRLF is a line break, kept
_SHOWN = re.compile(r"\r\n|" + control_class("\t\n"))


def _shown(found: re.Match[str]) -> str:
    return found.group() if found.group() == "\r\n" else escape(found)


class TerminalText:
    """Writes UTF-8 text to ``raw`` with its controls escaped, across chunk boundaries
    (a character split between two chunks, a ``\\r`` whose ``\\n`` comes next)."""

    def __init__(self, raw: IO[bytes]) -> None:
        self.raw = raw
        self._decoder = codecs.getincrementaldecoder("utf-8")("replace")
        self._held = ""

    def _emit(self, text: str) -> None:
        if text:
            self.raw.write(_SHOWN.sub(_shown, text).encode("utf-8"))

    def write(self, data: bytes) -> int:
        text = self._held + self._decoder.decode(data)
        self._held = "\r" if text.endswith("\r") else ""
        self._emit(text[: len(text) - len(self._held)])
        return len(data)

    def flush(self) -> None:
        """What was written out so far, less what is held (a last ``\\r``, an incomplete
        character): the download flushes after every chunk, and ending the decoder here
        showed each character a chunk boundary cut as replacement characters and a CRLF
        it cut as ``\\u000d`` (red team 60); ``close`` ends it."""
        self.raw.flush()

    def fileno(self) -> int:
        return self.raw.fileno()

    def close(self) -> None:
        """The end of the text: what is held goes out (the raw stream stays open)."""
        self._emit(self._held + self._decoder.decode(b"", final=True))
        self._held = ""
        self.raw.flush()
