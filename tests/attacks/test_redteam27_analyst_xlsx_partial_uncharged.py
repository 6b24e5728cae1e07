"""Red team 27, as an analyst: most of an xlsx workbook taken, nothing charged.

Every start ends on record with what the transport took, and the daily quota is
charged for the rows that left (THREAT_MODEL, class 4). Each chunk of a result carries
the rows it completes — but an xlsx is assembled whole and handed on in 1 MiB pieces,
and all its rows were counted with the *last* piece. The sheet's rows are in the first
pieces (the zip's first entry, a deflate stream: any prefix of it inflates to the rows
it holds); the last piece holds the sheet's end, the small fixed parts and the zip's
directory.

Dora asks for 200,000 rows as xlsx and stops reading after the first MiB; the
gateway cuts her stalled stream (``stream_stall_timeout_s``) and records
``query.aborted`` — with ``rows: 0``, the reservation given back, no quota charged and
nothing for the bulk-pull alert — while the bytes it had handed on (``bytes_sent``,
all but the last piece) reach her and inflate to tens of thousands of the rows.

Expected: rows that left are on record (over-recording, never under-recording): an
xlsx's rows count from its first piece. On the embedded SQLite default and on
PostgreSQL.
"""

from __future__ import annotations

import json
import struct
import zlib
from collections.abc import Iterator

import pytest

from tests.attacks.deployments import KINDS
from tests.attacks.live_gateway import (
    CASE,
    Live,
    RawPost,
    add_big_table,
    deployment_home,
    ended,
    serve,
)

WIDE = "civil.rt27_wide_rows"
ROWS = 200_000  # BIG_ROWS: the deployment allows as many L2 rows per query


@pytest.fixture(scope="module", params=KINDS)
def live(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Live]:
    """200,000 rows of random hex (little to compress): a workbook of several MiB, more
    than the socket buffers between the gateway and a client that stops reading."""
    home = tmp_path_factory.mktemp(f"rt27-xlsx-{request.param}")
    with deployment_home(request.param, home) as gw:
        add_big_table(gw, table="rt27_wide_rows", dataset=WIDE, note="hex(randomblob(24))")
        with serve(gw) as server:
            yield server


def _dechunked(body: bytes) -> bytes:
    """The payload of a chunked HTTP body, as far as it goes (the last chunk may be cut)."""
    out, at = b"", 0
    while (eol := body.find(b"\r\n", at)) != -1:
        size = int(body[at:eol].split(b";")[0], 16)
        if size == 0:
            break
        out += body[eol + 2 : eol + 2 + size]
        at = eol + 2 + size + 2
    return out


def _rows_inflated(workbook_prefix: bytes) -> int:
    """The data rows a prefix of a workbook gives back: its first zip entry (the result
    sheet) inflated as far as the bytes go, the header row left out."""
    assert workbook_prefix[:4] == b"PK\x03\x04", workbook_prefix[:16]
    name_len, extra_len = struct.unpack("<HH", workbook_prefix[26:30])
    assert workbook_prefix[30 : 30 + name_len] == b"xl/worksheets/sheet1.xml"
    sheet = zlib.decompressobj(-15).decompress(workbook_prefix[30 + name_len + extra_len :])
    return max(sheet.count(b"</row>") - 1, 0)


def test_rows_of_a_partly_taken_workbook_are_on_record(live: Live) -> None:
    stream = RawPost(
        live, f"/api/v1/datasets/{WIDE}/query?format=xlsx",
        json.dumps({**CASE, "limit": ROWS}).encode(),
        {"Authorization": f"Bearer {live.gw.token('dora')}", "Content-Type": "application/json"},
    )  # fmt: skip
    assert stream.status == 200, stream.body[:300]
    stream.read(1 << 20)  # the first MiB, then she stops reading
    end = ended(live, stream.request_id)  # cut at the stall bound
    stream.read_to_the_end()  # what was handed on still reaches her
    taken = _rows_inflated(_dechunked(stream.body))
    assert end["type"] == "query.aborted", end["type"]
    assert taken > ROWS // 4, taken  # a good part of the rows left
    assert end["rows"] >= taken, (end["rows"], taken, end["details"].get("bytes_sent"))
