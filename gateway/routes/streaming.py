"""How governed results leave: small ones as one response, large ones streamed.

Small results (the common case) go out as one response, so an error before the first
byte still becomes a JSON error and the completion is on record first; past
``SMALL_RESPONSE`` bytes the rest is streamed as it is produced.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator

from fastapi import Request
from fastapi.responses import Response, StreamingResponse

SMALL_RESPONSE = 64 * 1024
# a client's X-Request-Id is echoed as a header and recorded: only a plain token is kept
_REQUEST_ID = re.compile(r"[A-Za-z0-9._:\-]{1,128}")


def request_id_of(request: Request) -> str:
    """The client's X-Request-Id if it is a plain token, else a fresh one."""
    request_id = request.headers.get("x-request-id") or ""
    return request_id if _REQUEST_ID.fullmatch(request_id) else uuid.uuid4().hex


def respond(stream: Iterator[bytes], media_type: str, headers: dict[str, str]) -> Response:
    head: list[bytes] = []
    size = 0
    for chunk in stream:
        head.append(chunk)
        size += len(chunk)
        if size > SMALL_RESPONSE:
            return StreamingResponse(_chain(head, stream), media_type=media_type, headers=headers)
    return Response(b"".join(head), media_type=media_type, headers=headers)


def _chain(head: list[bytes], rest: Iterator[bytes]) -> Iterator[bytes]:
    yield from head
    yield from rest
