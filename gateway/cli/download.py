"""A governed result from the gateway to a file or standard output, with an honest end.

Why so careful: an analyst's file is evidence in a case file. A file that is silently
short (the connection dropped, the client was interrupted) or silently cut (the
gateway stopped at its row cap) reads as "these are all the records", which is the
worst error an oversight tool can make. So:

- a file is written as ``FILE.part`` (created fresh, readable by its owner only: it may
  hold personal data) and renamed to ``FILE`` only when the stream ended as HTTP says
  it should *and* the format's own end is there (the JSON trailer, Parquet's footer
  magic, the Arrow stream's end-of-stream marker, a final newline); on any failure or
  interruption the partial file is deleted and the command says so. Nothing resumes: a
  ``FILE.part`` left by a killed run is discarded, out loud, and the query runs again
  (each run is its own audited query);
- truncation is read from the ``Sluice-Truncated`` response header when the gateway
  sends it, else from the format itself where it carries a flag
  (``gateway.cli.result_ends``), and reported; when nothing says, the report says that
  too;
- progress (bytes, and rows where the stream shows them: NDJSON and CSV lines as they
  arrive; JSON, Parquet and Arrow at the end) goes to stderr through rich, so stdout
  carries only data.
"""

from __future__ import annotations

import functools
import json
import os
import signal
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, NoReturn, cast

import click

from gateway.cli.remote import BINARY_FORMATS, Output, Remote
from gateway.cli.result_ends import Received, format_complete, row_counter, settle
from gateway.cli.shown import shown
from gateway.cli.terminal_text import TerminalText

if TYPE_CHECKING:
    import httpx

TAIL_BYTES = 64 * 1024  # kept from the end of the stream to find the format's end
EXIT_TRUNCATED = 3
EXIT_INTERRUPTED = 130


# -- where the bytes go -----------------------------------------------------------------


# -- where the bytes go -----------------------------------------------------------------


class Destination:
    """``FILE.part`` renamed to ``FILE`` on success, or standard output."""

    def __init__(self, out: Path | None, *, force: bool, fmt: str) -> None:
        self.out = out
        self.part = out.with_name(out.name + ".part") if out else None
        self.force = force
        self.fmt = fmt
        self.file: IO[bytes] | None = None

    def prepare(self) -> None:
        """Refuse what cannot work before the query runs (it is on record once it does)."""
        if self.out is None or self.part is None:
            if self.fmt in BINARY_FORMATS and sys.stdout.isatty():
                raise click.UsageError(f"{self.fmt} is binary: write it with --out FILE")
            return
        if self.out.exists() and not self.force:
            raise click.ClickException(f"{self.out} exists: pass --force to replace it")
        if not self.out.parent.is_dir():
            raise click.ClickException(f"no directory {self.out.parent} to write into")
        if os.path.lexists(self.part):  # a link there too: removed, never followed
            self.part.unlink()
            click.echo(f"discarded {self.part} left by an earlier run (downloads never resume: "
                       "the query runs again, and is on record again)", err=True)  # fmt: skip

    def open(self) -> IO[bytes]:
        """The file to write to, once the gateway has answered 200."""
        if self.part is None:
            self.file = sys.stdout.buffer
            if sys.stdout.isatty():  # a text format (prepare refused the others): escaped
                self.file = cast(IO[bytes], TerminalText(self.file))
            return self.file
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
        self.file = os.fdopen(os.open(self.part, flags, 0o600), "wb")
        return self.file

    def commit(self) -> None:
        """Make the complete file visible under its name, in one step."""
        if self.file is None:
            return
        if isinstance(self.file, TerminalText):
            self.file.close()  # what it held back (a last \r, a cut character) goes out
        self.file.flush()
        if self.part is None or self.out is None:
            return
        os.fsync(self.file.fileno())
        self.file.close()
        os.replace(self.part, self.out)

    def discard(self) -> bool:
        """Drop a partial file; whether there was one."""
        if self.part is None or self.file is None:
            return False
        self.file.close()
        try:
            self.part.unlink()
        except FileNotFoundError:
            return False
        return True


# -- the transfer -----------------------------------------------------------------------


# -- the transfer -----------------------------------------------------------------------


class GatewayRefused(click.ClickException):
    """The gateway answered with an error: its code, message and reasons, each through
    ``shown`` (the twenty-seventh pass: a refusal naming a field a steward or a partner source named
    with terminal escape sequences ran them in the analyst's terminal)."""

    def __init__(self, status: int, body: bytes) -> None:
        try:
            error = json.loads(body)
        except ValueError:
            error = None
        if not isinstance(error, dict):
            super().__init__(f"the gateway answered {status}")
            return
        code, message = shown(error.get("code", "")), shown(error.get("message", ""))
        text = f"the gateway answered {status} {code}: {message}"
        details = error.get("details")
        reasons = details.get("reasons") if isinstance(details, dict) else None
        if isinstance(reasons, list) and reasons:
            text += "".join(f"\n  - {shown(reason)}" for reason in reasons)
        elif isinstance(details, list):  # request validation: where the problems are
            text += "".join(f"\n  - {shown('.'.join(map(str, p.get('loc', []))))}: "
                            f"{shown(p.get('msg', ''))}"
                            for p in details if isinstance(p, dict))  # fmt: skip
        super().__init__(text)


def _progress(show: bool, label: str) -> Any:
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        DownloadColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TransferSpeedColumn,
    )

    # the label (a dataset id, a run id the gateway made) as text, never rich markup
    columns = (
        TextColumn("{task.description}", markup=False),
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
        TextColumn("{task.fields[rows]}", markup=False),
        TimeElapsedColumn(),
    )
    return Progress(*columns, console=Console(stderr=True), disable=not show)


def _receive(
    response: httpx.Response, sink: IO[bytes], output: Output, label: str
) -> tuple[Received, bytes, bytes]:
    """Copy the body to ``sink`` with a progress bar; returns what arrived, its first
    bytes and its last ``TAIL_BYTES``."""
    received = Received(request_id=response.headers.get("x-request-id", ""))
    counter = row_counter(output.fmt)
    head, tail = b"", b""
    total = response.headers.get("content-length")
    with _progress(output.progress, label) as progress:
        rows_text = "rows: counted at the end" if counter is None else "0 rows"
        task = progress.add_task(label, total=int(total) if total and total.isdigit() else None,
                                 rows=rows_text)  # fmt: skip
        for chunk in response.iter_bytes():
            sink.write(chunk)
            sink.flush()  # what arrived is on disk (as FILE.part) as it arrives
            received.bytes += len(chunk)
            head = head if len(head) >= 8 else (head + chunk)[:8]
            tail = (tail + chunk)[-TAIL_BYTES:]
            if counter is not None:
                counter.feed(chunk)
                rows_text = f"{counter.rows:,} rows"
            progress.update(task, completed=received.bytes, rows=rows_text)
    if counter is not None:
        received.rows = counter.rows
    return received, head, tail


def fetch(
    remote: Remote, path: str, body: dict[str, Any], output: Output, *, label: str,
    method: str = "POST",
) -> Received:  # fmt: skip
    """POST ``body`` to ``path`` (or GET it: a stored result such as a run's hits) and
    deliver the result as ``output`` says; raises a ``click.ClickException`` (or
    ``click.exceptions.Exit``) that says what happened."""
    import httpx

    destination = Destination(output.out, force=output.force, fmt=output.fmt)
    params: dict[str, str] = {"format": output.fmt}
    if output.bom:
        params["bom"] = "true"
    timeout = httpx.Timeout(300.0, connect=10.0)
    destination.prepare()
    interrupted = functools.partial(_fail, destination, KeyboardInterrupt(), remote.url)
    try:
        with (
            _ctrl_c_exits(interrupted),
            httpx.Client(timeout=timeout, follow_redirects=False) as client,
            client.stream(
                method,
                remote.url + path,
                params=params,
                json=body if method == "POST" else None,
                headers=remote.headers(),
            ) as response,
        ):
            if response.status_code != 200:
                raise GatewayRefused(response.status_code, _bounded(response))
            received, head, tail = _receive(response, destination.open(), output, label)
            if not format_complete(output.fmt, head, tail):
                raise click.ClickException(f"the {output.fmt} stream ended before its end "
                                           "marker: the result is incomplete")  # fmt: skip
            destination.commit()
            settle(received, fmt=output.fmt, headers=response.headers, tail=tail,
                   path=output.out)  # fmt: skip
            return received
    except BaseException as exc:
        _fail(destination, exc, remote.url)


@contextmanager
def _ctrl_c_exits(action: Callable[[], None]) -> Iterator[None]:
    """Ctrl-C runs ``action`` (which deletes the partial file and exits) from the signal
    handler itself, before anything unwinds: a KeyboardInterrupt raised inside the HTTP
    client's connection pool could leave the interpreter waiting there past 30 s on a
    stalled stream (seen in clean-clone runs, at load, twice), with the partial file on
    disk. Off the main thread (no signal handler there) nothing changes."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGINT, lambda _signum, _frame: action())
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def _bounded(response: httpx.Response, limit: int = 64 * 1024) -> bytes:
    body = b""
    for chunk in response.iter_bytes():
        body += chunk
        if len(body) >= limit:
            break
    return body[:limit]


def _fail(destination: Destination, exc: BaseException, url: str) -> NoReturn:
    """Delete a partial file and turn the failure into a message that names no secret."""
    import httpx

    dropped = destination.discard()
    note = f" ({destination.part} deleted: nothing incomplete is kept)" if dropped else ""
    if isinstance(exc, KeyboardInterrupt):
        click.echo(f"interrupted{note}", err=True)
        # Ctrl-C ends the process now: the partial file is gone and nothing is left to
        # flush (``_ctrl_c_exits`` calls this from the signal handler, before unwinding)
        sys.stderr.flush()
        os._exit(EXIT_INTERRUPTED)
    if isinstance(exc, click.exceptions.Exit):
        raise exc
    if isinstance(exc, click.UsageError):
        raise exc
    if isinstance(exc, click.ClickException):
        raise click.ClickException(exc.format_message() + note) from None
    if isinstance(exc, httpx.ConnectError | httpx.ConnectTimeout):
        raise click.ClickException(f"cannot reach the gateway at {url}{note}") from None
    if isinstance(exc, httpx.TimeoutException):
        raise click.ClickException(f"the gateway sent nothing for too long{note}") from None
    if isinstance(exc, httpx.TransportError):
        raise click.ClickException(
            f"the connection ended before the result did ({type(exc).__name__}){note}"
        ) from None
    if isinstance(exc, OSError):
        raise click.ClickException(f"cannot write the result: {exc.strerror}{note}") from None
    raise exc


def report(received: Received, output: Output) -> None:
    """The end, on stderr: where it went, rows, bytes, the request id, truncation."""
    where = str(output.out) if output.out else "standard output"
    rows = f"{received.rows:,} rows" if received.rows is not None else "rows not counted"
    click.echo(f"{where}: {rows}, {received.bytes:,} bytes ({output.fmt}); "
               f"request {shown(received.request_id or '?')}", err=True)  # fmt: skip
    if received.truncated:
        click.echo(f"TRUNCATED ({received.said_by}): the gateway stopped at {rows}, the limit "
                   "asked for or the policy's row cap; more rows match. Narrow the query "
                   "(--where) rather than treat this as the whole result.", err=True)  # fmt: skip
        if output.fail_if_truncated:
            raise click.exceptions.Exit(EXIT_TRUNCATED)
    elif received.truncated is None:
        header = (f"Sluice-Truncated: {shown(received.header)}" if received.header
                  else "no Sluice-Truncated header")  # fmt: skip
        why = f"{output.fmt} {_NO_FLAG.get(output.fmt, 'had no flag')}"
        click.echo(f"the gateway did not say whether the result was cut ({header}, and {why})",
                   err=True)  # fmt: skip
        if output.fail_if_truncated:  # asked for certainty, and there is none
            raise click.exceptions.Exit(EXIT_TRUNCATED)


_NO_FLAG = {"csv": "carries no flag", "csv_raw": "carries no flag",
            "ndjson": "carries no flag", "parquet": "on standard output was not read back",
            "arrow": "on standard output was not read back",
            "xlsx": "on standard output was not read back"}  # fmt: skip
