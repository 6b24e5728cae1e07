"""``TerminalText``: a text result's controls escaped on the way to a terminal, whatever
the chunks (red team 59)."""

from __future__ import annotations

import io

from gateway.cli.terminal_text import TerminalText


def _through(*chunks: bytes) -> str:
    raw = io.BytesIO()
    out = TerminalText(raw)
    for chunk in chunks:
        assert out.write(chunk) == len(chunk)
        out.flush()  # as the download does after every chunk
    out.close()
    return raw.getvalue().decode("utf-8")


def test_line_breaks_and_tabs_stay_every_other_control_is_shown() -> None:
    text = "a\tb\r\nc\nd\x1b[2Ke\rf\x07\u009b2K\u202eg"
    assert _through(text.encode()) == "a\tb\r\nc\nd\\u001b[2Ke\\u000df\\u0007\\u009b2K\\u202eg"


def test_a_character_or_a_crlf_split_between_chunks() -> None:
    csi, crlf = "x\u009by".encode(), b"1\r\n2\r"
    assert _through(csi[:2], csi[2:]) == "x\\u009by"
    assert _through(crlf[:2], crlf[2:]) == "1\r\n2\\u000d"
    assert _through("中".encode()[:1], "中".encode()[1:]) == "中"
