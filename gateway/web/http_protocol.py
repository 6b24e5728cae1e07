"""A uvicorn HTTP protocol that accepts raw UTF-8 in the request line.

``curl '127.0.0.1:8000/api/v1/catalog?q=低保'`` sends the Chinese characters as raw
bytes, which the strict HTTP parsers (httptools, h11) refuse with a 400. Only the
request line of a new message is touched: bytes >= 0x80 there are percent-encoded,
exactly what a browser would have sent, before the parser sees them. Headers and
bodies pass through unchanged.
"""

from __future__ import annotations

from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol


def _escape_request_line(data: bytes) -> bytes:
    end = data.find(b"\r\n")
    line = data if end < 0 else data[:end]
    if all(b < 0x80 for b in line):
        return data
    escaped = b"".join(b"%%%02X" % b if b >= 0x80 else bytes((b,)) for b in line)
    return escaped if end < 0 else escaped + data[end:]


class Utf8RequestLineProtocol(HttpToolsProtocol):
    """Only a chunk that begins a message has its first line rewritten.

    A chunk begins a message when the previous chunk ended exactly where a message
    completed: a message completed *within* a chunk whose later bytes began the next
    one (a pipelined request) leaves the next chunk in the middle of that message —
    its headers or its body, which must pass through as sent. Taken for a request line
    before, a body's first line was percent-encoded: the body grew past its
    ``Content-Length`` and its tail, chosen by the client, was parsed as a request of
    its own, one no front proxy saw as a request (red team 29)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._at_message_start = True
        self._ended_last = False

    def data_received(self, data: bytes) -> None:
        if self._at_message_start:
            data = _escape_request_line(data)
        self._at_message_start = self._ended_last = False
        super().data_received(data)
        # the next chunk begins a message only if this one's last byte ended one
        self._at_message_start = self._ended_last

    def on_message_begin(self) -> None:
        self._ended_last = False  # a message began after the last one ended: mid-message
        super().on_message_begin()

    def on_message_complete(self) -> None:
        super().on_message_complete()
        self._ended_last = True
