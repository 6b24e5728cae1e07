"""How governed results leave, and how the record learns what left.

Small results (the common case) are produced in the request's thread, so an error
before the first byte still becomes a JSON error; past ``SMALL_RESPONSE`` bytes the rest
is produced as it is sent. Either way ``GovernedResponse`` is the only sender, and it
alone ends the delivery on record:

- a chunk counts as sent once ``send`` has handed it to the server (a chunk whose send
  raced a disconnect counts: the record never understates what may have left);
- the client closing the connection (``http.disconnect``) stops production at once
  and records ``aborted`` with ``client_disconnected``;
- a client that takes nothing for ``stall_timeout_s`` (its socket and the server's
  buffers full) is cut off: ``aborted`` with ``client_stalled``; the source connection
  is released then and there, never held for a reader that does not read;
- a cancellation (server shutdown) records ``aborted`` with ``cancelled``; an error
  while producing records ``failed``;
- ``governs`` (the route's: the caller's account, the entry's freeze) is read again
  every ``GOVERN_EVERY_S`` while the result is produced — in the head too, and once
  more before the headers leave when more than ``RECHECK_S`` passed since the route
  read the account (``read_at``: a query may wait for a source slot first; an xlsx
  is assembled whole before its first byte, then leaves within milliseconds) — and
  between the chunks that follow (``Governor``): an officer's suspension or freeze
  stops a result in flight, ``aborted`` with the refusal's code (before the headers,
  the refusal is the response).

A result cut at its row cap says so in the ``Sluice-Truncated`` response header, in
every format. A header leaves before the body, and the reader knows the cut for certain
only at the end of its read (it reads one row past the limit), so the header says what
is known when the headers leave: ``true`` or ``false`` for a result that was produced
whole within the first ``SMALL_RESPONSE`` bytes (most results, and every xlsx, which is
assembled at the end), ``true`` for a longer one whose cut was already seen, and
``unknown`` for a longer one still being read. ``unknown`` is then settled in-band where
the format has room: JSON's ``truncated``, Parquet's footer metadata, Arrow's closing
batch, xlsx's ``sluice`` sheet (``gateway.enforcement.query.formats``). An HTTP
trailer would say it for CSV and NDJSON too, but the ASGI servers we run on do not send
trailers, and a header announced and never sent would be worse than ``unknown``; a
client that needs certainty for those formats asks for ``limit`` + 1 rows or uses JSON.

Request ids on record are the gateway's own (``new_request_ids``): a client's
``X-Request-Id`` is kept beside it when it is a plain token, never instead of it.
"""

from __future__ import annotations

import asyncio
import re
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any, Protocol

import anyio
from fastapi import Request
from starlette.responses import Response
from starlette.types import Message, Receive, Scope, Send

from catalog.errors import SluiceError, audited
from gateway.enforcement.query.delivery import Chunk
from gateway.enforcement.query.formats import CutProbe, cut_text
from policies.decision import UserContext

SMALL_RESPONSE = 64 * 1024
# a stream in flight reads its caller's account again this often (``governs``); a
# streamed response takes ``SLUICE_STREAM_GOVERN_EVERY_S`` (this by default)
GOVERN_EVERY_S = 1.0
# a head that took longer than this (a small answer takes milliseconds) is followed by one
# more read of the caller's account before the headers leave
RECHECK_S = 0.1
TRUNCATED_HEADER = "Sluice-Truncated"
# a client's X-Request-Id is recorded beside ours: only a plain token is kept
_REQUEST_ID = re.compile(r"[A-Za-z0-9._:\-]{1,128}")


class Delivery(Protocol):
    """What ``GovernedResponse`` sends and ends: a query's or comparison's
    (``gateway.enforcement.query.delivery.Delivery``), or an audit export's
    (``gateway.web.audit_export.ExportDelivery``)."""

    def chunks(self) -> Iterator[Chunk]: ...

    def sent(self, data: bytes, rows: int) -> None: ...

    def complete(self) -> None: ...

    def completes_in_place(self) -> bool: ...

    def abort(self, reason: str) -> None: ...

    def fail(self, exc: BaseException) -> None: ...

    def close(self) -> None: ...


def new_request_ids(request: Request) -> tuple[str, str | None]:
    """A fresh gateway request id, and the client's X-Request-Id if it is a plain
    token (else ``None``): the client chooses nothing on record but a side note."""
    client_id = request.headers.get("x-request-id") or ""
    return uuid.uuid4().hex, client_id if _REQUEST_ID.fullmatch(client_id) else None


def respond(
    delivery: Delivery,
    media_type: str,
    headers: dict[str, str],
    *,
    stall_timeout_s: float,
    cut: CutProbe | None = None,
    governs: Callable[[], object] | None = None,
    read_at: float | None = None,
    govern_every_s: float = GOVERN_EVERY_S,
) -> Response:
    """Produce up to ``SMALL_RESPONSE`` bytes here (errors stay JSON errors), then hand
    the delivery to ``GovernedResponse``, which sends and ends it. ``cut`` (a query's)
    gives the ``Sluice-Truncated`` header, as known when the headers leave. ``read_at``:
    when the route read the caller's account (``time.monotonic``; default now), where
    ``governs``' clock starts; ``govern_every_s``: how often it is read again."""
    governor = Governor(governs, read_at, govern_every_s) if governs is not None else None
    head, rest = _head(delivery, governor, SMALL_RESPONSE)
    if cut is not None:
        headers = {**headers, TRUNCATED_HEADER: cut_text(cut())}
    if rest is not None and governor is not None:
        rest = _governed(rest, governor)
    return GovernedResponse(delivery, head, rest, media_type=media_type, headers=headers,
                            stall_timeout_s=stall_timeout_s)  # fmt: skip


def take_whole(
    delivery: Delivery, *, governs: Callable[[], object], read_at: float | None
) -> bytes:
    """A result taken whole by a page that renders it (the console's preview and
    comparison), governed as ``respond`` governs a response: ``governs`` read again every
    ``GOVERN_EVERY_S`` while it is produced and once more before it is handed over when
    more than ``RECHECK_S`` passed since ``read_at``; ended on record — a refusal is
    ``aborted`` with its code and raised, nothing handed over (red team 8)."""
    chunks, _rest = _head(delivery, Governor(governs, read_at), None)
    for data, rows in chunks:
        delivery.sent(data, rows)  # handed to the page being rendered
    delivery.complete()
    delivery.close()
    return b"".join(data for data, _ in chunks)


def _head(
    delivery: Delivery, governor: Governor | None, limit: int | None
) -> tuple[list[Chunk], Iterator[Chunk] | None]:
    """What is produced before anything is handed on: up to ``limit`` bytes (the rest's
    producer returned beside it), or all of it (``None``: a page renders it whole).
    ``governor`` reads the account every ``GOVERN_EVERY_S`` meanwhile — a head can take
    long: an xlsx is built whole before its first byte — and once more at the end when
    more than ``RECHECK_S`` passed since its last read, since what follows may leave
    within milliseconds. Nothing was handed on, so an error fails the delivery and is
    raised, and a refusal aborts it on record and is raised as the answer."""
    head: list[Chunk] = []
    size = 0
    chunks = delivery.chunks()
    rest: Iterator[Chunk] | None = None
    refused: SluiceError | None = None
    try:
        for chunk in chunks:
            head.append(chunk)
            size += len(chunk[0])
            if limit is not None and size > limit:
                rest = chunks
                break
            if governor is not None and (refused := governor.refusal(governor.every)):
                break
        if refused is None and governor is not None:
            refused = governor.refusal(RECHECK_S)
    except BaseException as exc:
        delivery.fail(exc)
        delivery.close()
        raise
    if refused is not None:
        delivery.abort(refused.code)
        delivery.close()
        raise audited(refused)
    return head, rest


class Governor:
    """``check`` (the route's: the caller's account read again, the entry's freeze)
    while one result is produced, and when it last passed — one clock for the head and
    the rest, so the rest's first read counts from the head's last."""

    def __init__(
        self, check: Callable[[], object], last: float | None = None,
        every: float = GOVERN_EVERY_S,
    ) -> None:  # fmt: skip
        self.check = check
        self.every = every  # how often it is read again while the result is produced
        # when the route read the caller's account: the request may have waited since
        # (a source slot, two for a comparison), and a small result leaves at once, so
        # the time before the headers is counted from the read, not from here (red team 8)
        self.last = time.monotonic() if last is None else last

    def refusal(self, every: float) -> SluiceError | None:
        """``check``'s refusal once ``every`` seconds have passed since it last passed
        (it is read again then), else None."""
        if time.monotonic() - self.last < every:
            return None
        try:
            self.check()
        except SluiceError as exc:
            return exc
        self.last = time.monotonic()
        return None


class _Resolves(Protocol):
    def resolve_at(self, token_user: UserContext) -> tuple[UserContext, int]: ...


class _ChecksStillAllowed(Protocol):
    def check_still_allowed(self, run: Any, user: UserContext, seen: int, *,
                            user_at: int | None = None) -> int: ...  # fmt: skip


def rechecks(checker: _ChecksStillAllowed, run: object, directory: _Resolves,
             user: UserContext, seen: int = 0) -> Callable[[], None]:  # fmt: skip
    """The ``governs`` of a result in flight (a query's or a comparison's): the caller's
    identity resolved as it is now, and ``checker.check_still_allowed`` with the
    generation it was resolved at (``user_at``: a change committed between the two reads
    is decided again). ``seen``: the catalog generation already decided (0: the first
    check decides again); then only when the catalog, the policy version or a counted
    grant's expiry moves (``Broker.check_still_allowed``)."""
    last = [seen]

    def governs() -> None:  # a suspension, a freeze, a narrowed access stop it in flight
        now, at = directory.resolve_at(user)
        last[0] = checker.check_still_allowed(run, now, last[0], user_at=at)

    return governs


class Refused(Exception):
    """The caller may no longer receive the rest (``governs`` refused): the code."""


def _governed(chunks: Iterator[Chunk], governor: Governor) -> Iterator[Chunk]:
    """``chunks``, the caller's account read again at most every ``GOVERN_EVERY_S``
    between them, so an officer's suspension or freeze stops a stream in flight, not
    only the next request."""
    for chunk in chunks:
        refused = governor.refusal(governor.every)
        if refused is not None:
            raise Refused(refused.code) from refused
        yield chunk


class GovernedResponse(Response):
    """Sends a delivery and records its end; ``rest`` is ``None`` when ``head`` is the
    whole result (sent with a Content-Length), else the producer of what follows."""

    def __init__(
        self,
        delivery: Delivery,
        head: list[Chunk],
        rest: Iterator[Chunk] | None,
        *,
        media_type: str,
        headers: dict[str, str],
        stall_timeout_s: float,
    ) -> None:
        self.delivery = delivery
        self.head = head
        self.rest = rest
        self.stall_timeout_s = stall_timeout_s
        self.status_code = 200
        self.media_type = media_type
        self.background = None
        if rest is None:
            self.body = b"".join(data for data, _ in head)  # gives the Content-Length
        self.init_headers(headers)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            outcome = await self._send_watching(receive, send)
        except BaseException as exc:
            with anyio.CancelScope(shield=True):
                await anyio.to_thread.run_sync(self._end, exc)
            raise
        if outcome == "complete" and self.delivery.completes_in_place():
            self._end(outcome)  # queued record, nothing to give back: no thread-pool hop
            return
        with anyio.CancelScope(shield=True):
            await anyio.to_thread.run_sync(self._end, outcome)
        # a stalled client: returning without completing the response makes the server
        # close the connection

    def _end(self, outcome: str | BaseException) -> None:
        """Record the end (once), then stop the producer: the source connection goes
        back to its pool whatever happened."""
        try:
            if outcome == "complete":
                self.delivery.complete()
            elif isinstance(outcome, str):
                self.delivery.abort(outcome)
            elif isinstance(outcome, anyio.get_cancelled_exc_class()):
                self.delivery.abort("cancelled")
            else:
                self.delivery.fail(outcome)
        finally:
            self.delivery.close()

    async def _send_watching(self, receive: Receive, send: Send) -> str:
        """Send everything while watching for the client to go; returns ``complete``,
        ``client_stalled`` or ``client_disconnected``."""
        if self.rest is None:
            return await self._send_whole(receive, send)
        outcome = "client_disconnected"  # unless sending finishes first

        async def watch(scope: anyio.CancelScope) -> None:
            while (await receive())["type"] != "http.disconnect":
                pass
            scope.cancel()

        async with anyio.create_task_group() as group:
            group.start_soon(watch, group.cancel_scope)
            outcome = await self._send_all(send)
            group.cancel_scope.cancel()
        return outcome

    async def _send_whole(self, receive: Receive, send: Send) -> str:
        """A whole small body (most results): two messages the server takes at once
        unless the client's buffers are full. Nothing is left to produce, so the watch
        is one plain task looked at after the sends instead of a task group that cancels
        them (the group and its scopes cost the event loop more than the sends). As with
        the group, the watch runs only while a send waits: a disconnect seen then is
        ``client_disconnected`` and nothing counts as sent; a body the server took
        without waiting counts as sent (the record never understates what may have
        left)."""
        watch = asyncio.ensure_future(receive())
        try:
            with anyio.move_on_after(self.stall_timeout_s) as scope:
                await send({"type": "http.response.start", "status": self.status_code,
                            "headers": self.raw_headers})  # fmt: skip
                await send({"type": "http.response.body", "body": self.body})
        finally:
            watch.cancel()
        if _disconnected(watch):
            return "client_disconnected"
        if scope.cancelled_caught:
            return "client_stalled"
        for data, rows in self.head:
            self.delivery.sent(data, rows)
        return "complete"

    async def _send_all(self, send: Send) -> str:
        """A long result: the head, then the rest as it is produced."""
        rest = self.rest
        assert rest is not None  # a whole body goes through ``_send_whole``
        start = {"type": "http.response.start", "status": self.status_code,
                 "headers": self.raw_headers}  # fmt: skip
        if not await self._send(send, start):
            return "client_stalled"
        for data, rows in self.head:
            if not await self._body(send, data):
                return "client_stalled"
            self.delivery.sent(data, rows)
        while True:
            try:
                item = await anyio.to_thread.run_sync(next, rest, None)
            except Refused as exc:  # ended on record as aborted, with the reason
                return str(exc)
            if item is None:
                break
            data, rows = item
            if not await self._body(send, data):
                return "client_stalled"
            self.delivery.sent(data, rows)
        body = {"type": "http.response.body", "body": b"", "more_body": False}
        return "complete" if await self._send(send, body) else "client_stalled"

    async def _body(self, send: Send, data: bytes) -> bool:
        return await self._send(
            send, {"type": "http.response.body", "body": data, "more_body": True}
        )

    async def _send(self, send: Send, message: dict[str, object]) -> bool:
        """Whether the server took the message before the stall timeout."""
        with anyio.move_on_after(self.stall_timeout_s) as scope:
            await send(message)
        return not scope.cancelled_caught


def _disconnected(watch: asyncio.Future[Message]) -> bool:
    """Whether the watch saw the client go (its outcome retrieved either way)."""
    if not watch.done() or watch.cancelled() or watch.exception() is not None:
        return False
    return bool(watch.result().get("type") == "http.disconnect")
