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
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._at_message_start = True

    def data_received(self, data: bytes) -> None:
        if self._at_message_start:
            data = _escape_request_line(data)
            self._at_message_start = False
        super().data_received(data)

    def on_message_complete(self) -> None:
        super().on_message_complete()
        self._at_message_start = True
