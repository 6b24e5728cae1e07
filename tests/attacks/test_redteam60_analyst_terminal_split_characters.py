"""Red team 60, as the analyst reading a text result on a terminal (red team 59's
``TerminalText``), with whoever writes a partner source's rows.

``sluice query`` without ``--out`` on a terminal writes the result through
``TerminalText``, which escapes control characters "across chunk boundaries (a character
split between two chunks, a ``\\r`` whose ``\\n`` comes next)". But the download loop
flushes its sink after every chunk (``download._receive``: "what arrived is on disk as it
arrives"), and ``TerminalText.flush`` ended the decoder there: every multi-byte
character the HTTP chunks split — a recipient's name in Chinese, three bytes a
character — reached the terminal as replacement characters, and a CRLF split between
chunks as an escaped ``\\u000d`` before its line break. What the analyst read was not
what the gateway sent, and a name was garbled on every chunk boundary it straddled.

Expected: the characters come out whole and the line break as one, however the body
is cut; controls are still escaped (red team 59's test keeps that).
"""

from __future__ import annotations

import io
from collections.abc import Iterator

import pytest

from gateway.cli.download import _receive
from gateway.cli.remote import Output
from gateway.cli.terminal_text import TerminalText

BODY = "name,status\r\n张三丰,在保\r\n李四,停保\x9b2K\r\n".encode()


class _Response:
    """As much of ``httpx.Response`` as ``_receive`` reads: the body in given pieces."""

    def __init__(self, pieces: list[bytes]) -> None:
        self.pieces = pieces
        self.headers: dict[str, str] = {}

    def iter_bytes(self) -> Iterator[bytes]:
        yield from self.pieces


@pytest.mark.parametrize("cut", range(1, len(BODY)))
def test_a_text_result_cut_anywhere_reaches_the_terminal_whole(cut: int) -> None:
    raw = io.BytesIO()
    sink = TerminalText(raw)
    _receive(_Response([BODY[:cut], BODY[cut:]]), sink,  # type: ignore[arg-type]
             Output(fmt="csv", out=None, progress=False), "civil.dibao_recipients")  # fmt: skip
    sink.close()
    assert raw.getvalue().decode() == "name,status\r\n张三丰,在保\r\n李四,停保\\u009b2K\r\n"
