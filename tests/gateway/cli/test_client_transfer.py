"""How ``sluice query`` ends when the transfer does not (issue 16).

A real gateway cannot be made to drop a connection halfway on demand, so these tests
put a small misbehaving HTTP server on loopback in its place: a stream cut mid-chunk,
a body shorter than its Content-Length, a format without its end, a stream that stalls
until the analyst presses Ctrl-C, a redirect elsewhere; and the truncation flags a
gateway may send (the ``Sluice-Truncated`` header, Parquet metadata). Each time the
client must say what happened and leave no file that looks complete.
"""

from __future__ import annotations

import contextlib
import io
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner, Result

from gateway.cli.main import cli

TOKEN = "eyJhbGciOiJFZERTQSJ9.eyJzdWIiOiJkb3JhIn0.c2lnbmF0dXJl"
Handler = Callable[[socket.socket, bytes], None]


class FakeGateway:
    """One handler answers every request on a loopback port; requests are kept."""

    def __init__(self, handler: Handler) -> None:
        self.handler = handler
        self.requests: list[bytes] = []
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}"
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            with conn:
                request = _read_request(conn)
                self.requests.append(request)
                with contextlib.suppress(OSError):  # the client may hang up first
                    self.handler(conn, request)

    def close(self) -> None:
        self.sock.close()


def _read_request(conn: socket.socket) -> bytes:
    data = b""
    while b"\r\n\r\n" not in data:
        data += conn.recv(65536)
    head, _, body = data.partition(b"\r\n\r\n")
    length = next((int(line.split(b":")[1]) for line in head.split(b"\r\n")
                   if line.lower().startswith(b"content-length:")), 0)  # fmt: skip
    while len(body) < length:
        body += conn.recv(65536)
    return head + b"\r\n\r\n" + body


@pytest.fixture
def fake() -> Iterator[Callable[[Handler], FakeGateway]]:
    made: list[FakeGateway] = []

    def make(handler: Handler) -> FakeGateway:
        made.append(FakeGateway(handler))
        return made[-1]

    yield make
    for server in made:
        server.close()


def _head(status: str = "200 OK", media: str = "application/x-ndjson", **extra: str) -> bytes:
    lines = [
        f"HTTP/1.1 {status}",
        f"Content-Type: {media}",
        "X-Request-Id: fake-1",
        "Connection: close",
    ]
    lines += [f"{name.replace('_', '-')}: {value}" for name, value in extra.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def _chunk(data: bytes) -> bytes:
    return f"{len(data):x}\r\n".encode() + data + b"\r\n"


def sluice(args: list[str], url: str) -> Result:
    env = {"SLUICE_URL": url, "SLUICE_TOKEN": TOKEN}
    return CliRunner().invoke(cli, args, env=env, catch_exceptions=False)


QUERY = ["query", "civil.dibao_recipients", "--purpose", "supervision"]
ROWS = b'{"n":1}\n{"n":2}\n'


def _nothing_kept(out: Path) -> None:
    assert not out.exists()
    assert not out.with_name(out.name + ".part").exists()


def test_a_stream_cut_mid_chunk_keeps_nothing(fake: Any, tmp_path: Path) -> None:
    def cut(conn: socket.socket, _: bytes) -> None:
        conn.sendall(_head(Transfer_Encoding="chunked") + _chunk(ROWS) + b'400\r\n{"n":3')

    out = tmp_path / "r.ndjson"
    result = sluice([*QUERY, "-o", str(out)], fake(cut).url)
    assert result.exit_code == 1
    assert "the connection ended before the result did" in result.stderr
    assert "deleted: nothing incomplete is kept" in result.stderr
    _nothing_kept(out)


def test_a_body_short_of_its_length_keeps_nothing(fake: Any, tmp_path: Path) -> None:
    def short(conn: socket.socket, _: bytes) -> None:
        conn.sendall(_head(Content_Length="1000") + ROWS)

    out = tmp_path / "r.ndjson"
    result = sluice([*QUERY, "-o", str(out)], fake(short).url)
    assert result.exit_code == 1 and "ended before the result did" in result.stderr
    _nothing_kept(out)


@pytest.mark.parametrize(("fmt", "body"), [
    ("parquet", b"PAR1" + b"\x00" * 64),  # no footer
    ("arrow", b"\xff\xff\xff\xff" + b"\x00" * 60),  # no end-of-stream marker
    ("json", b'{"columns":[],"rows":[{"n":1}'),  # no trailer
    ("ndjson", b'{"n":1}\n{"n":'),  # no final newline
])  # fmt: skip
def test_a_format_without_its_end_keeps_nothing(
    fake: Any, tmp_path: Path, fmt: str, body: bytes
) -> None:
    """HTTP says complete, the format does not: the file is not kept either."""

    def framed(conn: socket.socket, _: bytes) -> None:
        conn.sendall(_head(Content_Length=str(len(body))) + body)

    out = tmp_path / f"r.{fmt}"
    result = sluice([*QUERY, "--format", fmt, "-o", str(out)], fake(framed).url)
    assert result.exit_code == 1, result.output
    assert f"the {fmt} stream ended before its end marker" in result.stderr
    _nothing_kept(out)


def test_ctrl_c_during_a_stalled_stream_keeps_nothing(fake: Any, tmp_path: Path) -> None:
    release = threading.Event()

    def stall(conn: socket.socket, _: bytes) -> None:
        conn.sendall(_head(Transfer_Encoding="chunked") + _chunk(ROWS))
        release.wait(30)

    server = fake(stall)
    out = tmp_path / "r.ndjson"
    part = tmp_path / "r.ndjson.part"
    env = {**os.environ, "SLUICE_URL": server.url, "SLUICE_TOKEN": TOKEN}
    proc = subprocess.Popen([sys.executable, "-m", "gateway.cli.main", *QUERY, "-o", str(out)],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)  # fmt: skip
    try:
        deadline = time.monotonic() + 30
        while not (part.exists() and part.stat().st_size == len(ROWS)):
            assert time.monotonic() < deadline, "the first rows never arrived"
            time.sleep(0.05)
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=30)
    finally:
        release.set()
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130
    assert b"interrupted" in err and b"deleted: nothing incomplete is kept" in err
    assert TOKEN.encode() not in err
    _nothing_kept(out)


def test_a_redirect_is_not_followed(fake: Any, tmp_path: Path) -> None:
    elsewhere = fake(lambda conn, _: conn.sendall(_head(Content_Length="0")))

    def redirect(conn: socket.socket, _: bytes) -> None:
        conn.sendall(_head("307 Temporary Redirect", "application/json",
                           Location=f"{elsewhere.url}/steal", Content_Length="0"))  # fmt: skip

    server = fake(redirect)
    result = sluice([*QUERY, "-o", str(tmp_path / "r.ndjson")], server.url)
    assert result.exit_code == 1 and "the gateway answered 307" in result.stderr
    assert len(server.requests) == 1 and elsewhere.requests == []
    assert f"Authorization: Bearer {TOKEN}".encode() in server.requests[0]


def test_the_truncation_header_is_reported(fake: Any, tmp_path: Path) -> None:
    def flagged(conn: socket.socket, _: bytes) -> None:
        conn.sendall(_head(Content_Length=str(len(ROWS)), Sluice_Truncated="true") + ROWS)

    out = tmp_path / "r.ndjson"
    result = sluice([*QUERY, "-o", str(out), "--fail-if-truncated"], fake(flagged).url)
    assert result.exit_code == 3
    assert "2 rows" in result.stderr and "TRUNCATED (the Sluice-Truncated header)" in result.stderr
    assert out.read_bytes() == ROWS  # what was sent is kept: it is whole, and flagged


@pytest.mark.parametrize("flag", [b"true", b"false"])
def test_parquet_metadata_says_whether_it_was_cut(fake: Any, tmp_path: Path, flag: bytes) -> None:
    table = pa.table({"n": [1, 2, 3]}).replace_schema_metadata({b"sluice.truncated": flag})
    sink = io.BytesIO()
    pq.write_table(table, sink)
    body = sink.getvalue()

    def parquet(conn: socket.socket, _: bytes) -> None:
        conn.sendall(_head(media="application/vnd.apache.parquet",
                           Content_Length=str(len(body))) + body)  # fmt: skip

    out = tmp_path / "r.parquet"
    result = sluice([*QUERY, "-o", str(out)], fake(parquet).url)
    assert result.exit_code == 0, result.output
    assert f"{out}: 3 rows" in result.stderr
    assert ("TRUNCATED (the Parquet footer's metadata)" in result.stderr) is (flag == b"true")
    assert "did not say" not in result.stderr
    assert pq.read_table(out).num_rows == 3


@pytest.mark.parametrize(("schema_says", "closing_says"), [
    (None, b"true"), (b"false", b"true"), (b"true", None), (None, b"false"),
])  # fmt: skip
def test_arrow_metadata_says_whether_it_was_cut(
    fake: Any, tmp_path: Path, schema_says: bytes | None, closing_says: bytes | None
) -> None:
    """The schema's flag is written first (when known that early), a closing zero-row
    batch's flag last (always exact): the last word counts."""
    schema = pa.schema([("n", pa.int64())])
    if schema_says is not None:
        schema = schema.with_metadata({b"sluice.truncated": schema_says})
    sink = io.BytesIO()
    with pa.ipc.new_stream(sink, schema) as writer:
        writer.write_batch(pa.record_batch([pa.array([1, 2], pa.int64())], schema=schema))
        if closing_says is not None:
            empty = pa.record_batch([pa.array([], pa.int64())], schema=schema)
            writer.write_batch(empty, custom_metadata={b"sluice.truncated": closing_says})
    body = sink.getvalue()

    def arrow(conn: socket.socket, _: bytes) -> None:
        head = _head(
            media="application/vnd.apache.arrow.stream",
            Content_Length=str(len(body)),
            Sluice_Truncated="unknown",
        )
        conn.sendall(head + body)

    out = tmp_path / "r.arrow"
    result = sluice([*QUERY, "-o", str(out)], fake(arrow).url)
    assert result.exit_code == 0, result.output
    assert f"{out}: 2 rows" in result.stderr
    cut = (closing_says or schema_says) == b"true"
    assert ("TRUNCATED (the Arrow stream's metadata)" in result.stderr) is cut


def test_an_unknown_cut_is_said_and_fails_a_strict_run(fake: Any, tmp_path: Path) -> None:
    def unknown(conn: socket.socket, _: bytes) -> None:
        conn.sendall(_head(Content_Length=str(len(ROWS)), Sluice_Truncated="unknown") + ROWS)

    server = fake(unknown)
    out = tmp_path / "r.ndjson"
    result = sluice([*QUERY, "-o", str(out)], server.url)
    assert result.exit_code == 0
    assert ("did not say whether the result was cut (Sluice-Truncated: unknown, and ndjson "
            "carries no flag)") in result.stderr  # fmt: skip
    strict = sluice([*QUERY, "-o", str(out), "--force", "--fail-if-truncated"], server.url)
    assert strict.exit_code == 3


def _workbook(rows: int, truncated: str | None) -> bytes:
    """A minimal workbook as a gateway's xlsx is laid out: sheet XML, custom properties."""
    ns = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
    cells = "".join(f'<row r="{i}"><c r="A{i}" t="inlineStr"><is><t>{i}</t></is></c></row>'
                    for i in range(1, rows + 2))  # fmt: skip
    sink = io.BytesIO()
    with zipfile.ZipFile(sink, "w") as book:
        book.writestr(
            "xl/worksheets/sheet1.xml",
            f'<worksheet xmlns="{ns}"><sheetData>{cells}</sheetData></worksheet>',
        )
        if truncated is not None:
            book.writestr("docProps/custom.xml", (
                '<Properties xmlns="http://schemas.openxmlformats.org/officeDocument/2006/'
                'custom-properties" xmlns:vt="http://schemas.openxmlformats.org/officeDocument/'
                '2006/docPropsVTypes"><property fmtid="{D5CDD505-2E9C-101B-9397-08002B2CF9AE}" '
                f'pid="2" name="sluice.truncated"><vt:bool>{truncated}</vt:bool></property>'
                "</Properties>"))  # fmt: skip
    return sink.getvalue()


@pytest.mark.parametrize("truncated", ["true", "false", None])
def test_a_workbook_says_whether_it_was_cut(
    fake: Any, tmp_path: Path, truncated: str | None
) -> None:
    body = _workbook(4, truncated)
    media = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"

    def xlsx(conn: socket.socket, _: bytes) -> None:
        conn.sendall(_head(media=media, Content_Length=str(len(body))) + body)

    out = tmp_path / "r.xlsx"
    result = sluice([*QUERY, "-o", str(out)], fake(xlsx).url)
    assert result.exit_code == 0, result.output
    assert f"{out}: 4 rows" in result.stderr
    assert ("TRUNCATED (the workbook's custom property)" in result.stderr) is (truncated == "true")
    assert ("did not say" in result.stderr) is (truncated is None)


def test_a_workbook_without_its_zip_end_keeps_nothing(fake: Any, tmp_path: Path) -> None:
    body = _workbook(4, "false")[:-30]

    def cut(conn: socket.socket, _: bytes) -> None:
        conn.sendall(_head(Content_Length=str(len(body))) + body)

    out = tmp_path / "r.xlsx"
    result = sluice([*QUERY, "-o", str(out)], fake(cut).url)
    assert result.exit_code == 1 and "the xlsx stream ended before its end marker" in result.stderr
    _nothing_kept(out)
