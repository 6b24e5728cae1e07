"""Exports (JSONL, CSV) that carry their own proof, and their offline verification.

An export is a sequence of records: a header, the public keys, the events (each with
seq, prev_hash, hash and the canonical event), the checkpoints, and a trailer. The
trailer holds the SHA-256 of every byte before it and the last (seq, hash), signed with
the exporting log's key, so *any* changed byte fails verification, and a verifier with
no database can recompute the chain and check every checkpoint signature. Key ids are
fingerprints: pinning the ids published at ``GET /api/v1/audit/keys`` (``trusted_kids``)
defeats an attacker who re-signs a doctored export with a key of their own — so
verification *requires* pinned key ids: keys that only the export itself vouches for
prove nothing. Given a witness's countersigned checkpoint (``witness``), the export
must also reach that checkpoint and carry its hash there: a truncated or re-chained
export that a witness saw longer is caught even when it is internally consistent.

Events are exported without their MACs (``audit.signing.EventMac``): an export stays
verifiable by anyone with no key (the hash chain and the signed checkpoints), and a
verifier without the key could not check a MAC anyway. What the MAC adds happens
before the export: the gateway
refuses to build on or sign an event it did not write (the writer seals), and database
verification names such an event. So a checkpoint in an export vouches only for events
the gateways MAC'd; an export of a trail sealed on such evidence says so (``sealed``).
"""

from __future__ import annotations

import csv
import hashlib
import hmac
import io
from collections.abc import Generator, Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Literal, TypedDict, Unpack

import orjson

from audit.canonical import canonical_json
from audit.chain import ChainChecker, Failure, VerifyResult, parse_body, result
from audit.checkpoints import check_against_chain, check_keys, check_signature
from audit.events import GENESIS_HASH, format_ts, utc_now
from audit.records import Delivery
from audit.signing import EventMac, Signer, kid_for, unb64, verify_signature
from audit.store import KEY_SELECT, AuditStore
from audit.witness_book import countersign_payload
from catalog.errors import BadRequest, Unavailable

Format = Literal["jsonl", "csv"]
EVENT_PAGE = 2_000  # events read at a time (one short read of the store each)
CSV_COLUMNS = ("kind", "seq", "prev_hash", "hash", "ts", "type", "actor", "outcome", "record")


class ExportTally:
    """What an export delivered — its events, bytes, their SHA-256, the last event's seq
    — for its end on record (``audit.export_completed``, ``_aborted``, ``_failed``): one
    count for the API's export (``gateway.web.audit_export``, what the transport took)
    and the operator's (``sluice audit export``, what was written)."""

    def __init__(self) -> None:
        self.digest = hashlib.sha256()
        self.size = self.events = 0
        self.last_seq: int | None = None

    def add(self, data: bytes, events: int, last_seq: int | None) -> None:
        """``data`` delivered, holding ``events`` events, the last of them ``last_seq``
        (None: no event in it)."""
        self.digest.update(data)
        self.size += len(data)
        self.events += events
        if last_seq is not None:
            self.last_seq = last_seq

    def details(self, why: Mapping[str, object]) -> dict[str, object]:
        """The end's details: ``why`` and what was delivered."""
        return {**why, "bytes_sent": self.size, "last_seq": self.last_seq}

    def delivery(self, duration_ms: float | None = None) -> Delivery:
        """The end's delivery: the events and the SHA-256 of the bytes (None: no byte)."""
        sha = self.digest.hexdigest() if self.size else None
        return Delivery(rows=self.events, result_sha256=sha, duration_ms=duration_ms)


def _trailer_payload(trailer: dict[str, Any]) -> bytes:
    return canonical_json({k: v for k, v in trailer.items() if k != "signature"})


def whole_trail(from_seq: int | None, to_seq: int | None) -> bool:
    """Whether an export asked with ``from_seq`` and ``to_seq`` is the whole trail: the
    only export that is evidence of a sealed trail two people may unseal on (red team
    5). One rule for every door — the API's, the console's (the API's handler) and the
    operator's ``sluice audit export``, which recorded any range as evidence, one event
    included (red team 29)."""
    return from_seq in (None, 1) and to_seq is None


def require_start_within(store: AuditStore, from_seq: int | None, to_seq: int | None = None
                         ) -> None:  # fmt: skip
    """``BadRequest`` for an export that can hold no event: asked to start past the
    trail's head (red team 26's left row), or to end before it starts (red team 29).
    Either started from some hash, held nothing and verified as an empty export, a proof
    of nothing an officer who mistyped a bound could take for evidence. Asked before the
    export is on record, at every door (the API, the console, the CLI); the head only
    grows after it."""
    if from_seq is not None and to_seq is not None and to_seq < from_seq:
        raise BadRequest(f"to={to_seq} is before from={from_seq}: there is no event to export")
    if from_seq is None or from_seq <= 1:
        return
    try:
        conn = store.connect(reader=True)
        try:
            head = store.read_head(conn)[0]
        finally:
            conn.close()
    except store.driver_errors as exc:
        raise Unavailable(f"audit store failed: {type(exc).__name__}") from None
    if from_seq > head:
        raise BadRequest(f"from={from_seq} is past the trail's head (seq {head}): there is no "
                         "event to export from there")  # fmt: skip


def _records(store: AuditStore, conn: Any, lo: int, hi: int) -> Iterator[tuple[str, Any]]:
    p = store.p
    # the events up to the head as it is now (read below a page at a time)
    hi = min(hi, store.read_head(conn)[0])
    start_prev = GENESIS_HASH
    if lo > 1:
        rows = store.fetch_all(conn, f"SELECT hash FROM audit_events WHERE seq = {p}", (lo - 1,))
        start_prev = rows[0][0] if rows else GENESIS_HASH
    yield (
        "header",
        {
            "kind": "header",
            "format": "sluice-audit-export",
            "version": 1,
            "exported_at": format_ts(utc_now()),
            "from_seq": lo,
            "start_prev_hash": start_prev,
            "hash": "sha256(prev_hash_bytes || RFC 8785 event)",
        },
    )
    # only keys a gateway of this deployment vouches for (``audit.signing.KeyRows``)
    keys = store.key_rows(store.fetch_all(conn, KEY_SELECT + " ORDER BY kid")).trusted
    for kid, algorithm, public, _created, _mac in keys:
        yield "key", {"kind": "key", "kid": kid, "algorithm": algorithm, "public_key": public}
    # the events a page at a time, each page its own read (``fetch_all`` ends it): no
    # snapshot of the store — on PostgreSQL the database's xmin horizon, on SQLite the
    # WAL's checkpoint — is held between pages, however slowly the export is taken
    # (events are never updated; the chain and the MACs are checked on what was read)
    sql = (
        f"SELECT seq, prev_hash, hash, body, mac FROM audit_events "
        f"WHERE seq > {p} AND seq <= {p} ORDER BY seq LIMIT {EVENT_PAGE}"
    )
    after = lo - 1
    while after < hi:
        page = store.fetch_all(conn, sql, (after, hi))
        for row in page:
            yield "event", row
        if len(page) < EVENT_PAGE:
            break
        after = int(page[-1][0])
    for seq, hash_hex, ts, kid, sig in store.fetch_all(
        conn,
        f"SELECT seq, hash, ts, kid, signature FROM audit_checkpoints "
        f"WHERE seq >= {p} AND seq <= {p} ORDER BY seq",
        (lo, hi),
    ):
        yield (
            "checkpoint",
            {
                "kind": "checkpoint",
                "seq": seq,
                "hash": hash_hex,
                "ts": ts,
                "kid": kid,
                "signature": sig,
            },
        )


def _event_line(seq: int, prev: str, hash_hex: str, body: str) -> bytes:
    # Canonical by construction: keys event < hash < kind < prev_hash < seq.
    return (
        f'{{"event":{body},"hash":"{hash_hex}","kind":"event","prev_hash":"{prev}","seq":{seq}}}\n'
    ).encode()


def _csv_line(values: Iterable[Any]) -> bytes:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerow(values)
    return buffer.getvalue().encode()


_FORMULA_START = ("=", "+", "-", "@", "\t", "\r", "\uff1d", "\uff0b", "\uff0d", "\uff20")


def _display(body: str | bytes) -> tuple[Any, Any, Any, Any]:
    """The display cells of an event's CSV line: its time, type, actor and outcome as
    its body says them, empty for a body no gateway wrote (not a JSON object: the
    export of a sealed trail is the evidence two people need, red team 18)."""
    event = parse_body(body)
    if not isinstance(event, dict):
        return None, None, None, None
    actor = event.get("actor")
    sub = actor.get("sub") if isinstance(actor, dict) else None
    return event.get("ts"), event.get("type"), sub, event.get("outcome")


def _shown(value: Any) -> Any:
    """A display cell of the CSV (e.g. the actor: a subject named by an admin or an
    identity provider) that a spreadsheet would evaluate gets a leading ``'`` (OWASP).
    The record column, the one verified, keeps a gateway's event exactly
    (``_record_cell``)."""
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value


def _record_cell(body: str | bytes) -> str:
    """The record cell of an event's CSV line: its body exactly, unless a spreadsheet
    would evaluate it — a body that is not JSON (no gateway wrote it: an insider's row,
    the very evidence of a sealed trail) starting as a formula gets a leading ``'``
    (red team 26). A JSON body never starts so, but for a bare negative number, which
    evaluates to itself: every event a gateway wrote is kept exactly and verifies."""
    text = body.decode("utf-8", "replace") if isinstance(body, bytes) else str(body)
    if text.startswith(_FORMULA_START) and parse_body(text) is None:
        return "'" + text
    return text


class _Vouching:
    """The first exported event whose MAC is not the gateways' (None: all are).

    The trailer's signature covers every byte, so without this it vouched for events
    past the last checkpoint that no gateway wrote: an insider's event chained at the
    head (public arithmetic) and exported before any writer checked it, or the very
    event a trail was sealed on; the reviewer's ``verify --file`` said ok (red team 24).
    Events before the first MAC'd one (a trail older than MACs) carry none."""

    def __init__(self, mac: EventMac | None, mac_from: int | None) -> None:
        self.mac, self.mac_from = mac, mac_from
        self.first: int | None = None

    def see(self, seq: int, hash_hex: str, tag: Any) -> None:
        if self.first is not None or self.mac is None:
            return
        if tag is None and (self.mac_from is None or seq < self.mac_from):
            return
        try:
            want = self.mac.tag(seq, bytes.fromhex(hash_hex))
        except (TypeError, ValueError):
            want = ""
        if not (isinstance(tag, str) and tag.isascii() and hmac.compare_digest(want, tag)):
            self.first = seq


class ExportOptions(TypedDict, total=False):
    """What an export covers beside its store and signer (``export_lines``)."""

    fmt: Format
    from_seq: int | None
    to_seq: int | None
    sealed: str | None


def export_stream(
    *, store: AuditStore, signer: Signer, **options: Unpack[ExportOptions]
) -> Iterator[bytes]:
    """The export as byte chunks (for a file): ``export_lines`` without their seqs."""
    return (line for line, _seq in export_lines(store=store, signer=signer, **options))


def export_lines(
    *,
    store: AuditStore,
    signer: Signer,
    fmt: Format = "jsonl",
    from_seq: int | None = None,
    to_seq: int | None = None,
    sealed: str | None = None,
) -> Generator[tuple[bytes, int | None], None, None]:
    """The export, line by line, each with the seq of the event it carries (``None``
    for the header, keys, checkpoints and trailer): what an HTTP response counts as it
    sends (``gateway.web.audit_export``). The events are those up to the head when the
    export began, read a page at a time, so no snapshot of the store is held while the
    lines are taken; the connection is closed as soon as the generator is (a response
    cut short closes it then and there). ``sealed`` (the seal reason) is written into the
    signed trailer of an evidence export taken while the trail is sealed."""
    if fmt not in ("jsonl", "csv"):
        raise BadRequest("format must be jsonl or csv")
    lo, hi = from_seq or 1, to_seq if to_seq is not None else 2**62
    digest = hashlib.sha256()
    count, last_seq, last_hash = 0, lo - 1, None
    conn = store.connect(reader=True)
    vouching = _Vouching(store.event_mac, store.first_maced(conn) if store.event_mac else None)
    try:
        if fmt == "csv":
            line = _csv_line(CSV_COLUMNS)
            digest.update(line)
            yield line, None
        for kind, record in _records(store, conn, lo, hi):
            if kind == "event":
                seq, prev, hash_hex, body, tag = record
                count, last_seq, last_hash = count + 1, seq, hash_hex
                vouching.see(seq, hash_hex, tag)
                if fmt == "jsonl":
                    line = _event_line(seq, prev, hash_hex, body)
                else:
                    ts, type_, sub, outcome = _display(body)
                    line = _csv_line((kind, seq, _shown(prev), _shown(hash_hex), _shown(ts),
                                      _shown(type_), _shown(sub), _shown(outcome),
                                      _record_cell(body)))  # fmt: skip
            elif fmt == "jsonl":
                line = canonical_json(record) + b"\n"
            else:
                line = _csv_line(_other_row(record))
            digest.update(line)
            yield line, (record[0] if kind == "event" else None)
    finally:
        conn.close()
    trailer: dict[str, Any] = {
        "kind": "trailer",
        "events": count,
        "last_seq": last_seq,
        "last_hash": last_hash,
        "sha256": digest.hexdigest(),
        "kid": signer.kid,
    }
    if sealed is not None:
        trailer["sealed"] = sealed
    if vouching.first is not None:
        trailer["unvouched_from"] = vouching.first
    trailer["signature"] = signer.sign(_trailer_payload(trailer))
    if fmt == "jsonl":
        yield canonical_json(trailer) + b"\n", None
    else:
        yield _csv_line(_other_row(trailer)), None


def _other_row(record: dict[str, Any]) -> tuple[Any, ...]:
    """A CSV row of a record that is not an event (a key, a checkpoint, the trailer):
    its kind and seq, then the record itself."""
    return (record["kind"], record.get("seq", ""), "", "", "", "", "", "",
            canonical_json(record).decode())  # fmt: skip


# -- offline verification ------------------------------------------------------------


class _Malformed(Exception):
    pass


def _parse_jsonl(content: bytes) -> Iterator[dict[str, Any]]:
    for number, line in enumerate(content.split(b"\n")[:-1], start=1):
        try:
            record = orjson.loads(line)
        except orjson.JSONDecodeError as exc:
            raise _Malformed(f"line {number} is not JSON") from exc
        if not isinstance(record, dict) or canonical_json(record) != line:
            raise _Malformed(f"line {number} is not canonical JSON")
        yield record


def _parse_csv(content: bytes) -> Iterator[dict[str, Any]]:
    try:
        rows = list(csv.reader(io.StringIO(content.decode("utf-8"), newline="")))
    except (UnicodeDecodeError, csv.Error) as exc:
        raise _Malformed("not UTF-8 CSV") from exc
    if not rows or tuple(rows[0]) != CSV_COLUMNS:
        raise _Malformed("CSV header row differs")
    if b"".join(_csv_line(row) for row in rows) != content:
        raise _Malformed("CSV is not in the exporter's exact encoding")
    for number, row in enumerate(rows[1:], start=2):
        if len(row) != len(CSV_COLUMNS):
            raise _Malformed(f"row {number} has {len(row)} columns")
        try:
            record = orjson.loads(row[-1])
        except orjson.JSONDecodeError as exc:
            raise _Malformed(f"row {number} record is not JSON") from exc
        if row[0] == "event":
            yield {
                "kind": "event",
                "seq": int(row[1]),
                "prev_hash": row[2],
                "hash": row[3],
                "event": record,
            }
        elif row[:-1] != [str(value) for value in _other_row(record)[:-1]]:
            # the digest covers every line but the trailer's: its columns must be the
            # exporter's own, or a changed kind column verified (byte-change property)
            raise _Malformed(f"row {number}'s columns differ from its record")
        else:
            yield record


UNPINNED = (
    "no signing key is pinned: the keys inside an export prove nothing (anyone can re-chain "
    "and re-sign a forged export with a key of their own); pin the gateway's published key "
    "ids with --trusted-kid KID or --trust FILE (GET /api/v1/audit/keys or a JWKS)"
)


UNPINNED_WITNESS = (
    "a witness receipt names its witness's key itself, so anyone can countersign a "
    "checkpoint of the export with a key of their own; pin the witness's published key "
    "id with --witness-kid KID or --witness-trust FILE (the witness's GET /api/v1/audit/keys)"
)


def verify_export(
    data: bytes, *, trusted_kids: set[str] | None, witness: dict[str, Any] | None = None,
    witness_kids: set[str] | None = None,
) -> VerifyResult:  # fmt: skip
    """Verify an export's bytes with no database. The format is recognised by content.

    Fails (``unpinned keys``) unless ``trusted_kids`` names the signing keys; with a
    witness receipt, fails (``unpinned witness key``) unless ``witness_kids`` names the
    witness's key — the receipt's own key proved only that it agrees with itself (red
    team 46's left row: a receipt dressed up from the export with any key passed) — and
    if the export does not reach the witnessed checkpoint."""
    if not trusted_kids:
        return VerifyResult(False, 0, 0, None, "unpinned keys", UNPINNED)
    if witness is not None and not witness_kids:
        return VerifyResult(False, 0, 0, None, "unpinned witness key", UNPINNED_WITNESS)
    try:
        return _verify_export(data, trusted_kids, witness, witness_kids or set())
    except _Malformed as exc:
        return VerifyResult(False, 0, 0, None, "malformed", str(exc))
    except (KeyError, TypeError, ValueError, UnicodeDecodeError) as exc:
        return VerifyResult(False, 0, 0, None, "malformed", f"unexpected content: {exc!r}")


@dataclass(frozen=True)
class _Export:
    """An export's records, parsed and checked for shape (not yet for truth)."""

    content: bytes  # every byte before the trailer: what the trailer's digest covers
    header: dict[str, Any]
    trailer: dict[str, Any]
    keys: dict[str, str]
    events: list[dict[str, Any]]
    checkpoints: list[dict[str, Any]]  # without those an unseal declared void


def _verify_export(
    data: bytes, trusted_kids: set[str], witness: dict[str, Any] | None, witness_kids: set[str]
) -> VerifyResult:
    """The checks in the order that decides which failure is reported: shape, pinned
    keys, the chain and its signatures (and the witness), then the trailer."""
    export = _parse_export(data)
    if not set(export.keys) <= trusted_kids:
        return VerifyResult(False, 0, 0, None, "untrusted keys",
                            f"the export carries keys that are not pinned: "
                            f"{sorted(set(export.keys) - trusted_kids)}")  # fmt: skip
    checker, failures = _check_chain(export, witness, witness_kids)
    if failures:
        return result(checker.count, len(export.checkpoints), failures)
    return _check_trailer(export, checker)


def _parse_export(data: bytes) -> _Export:
    """Split an export into its records; ``_Malformed`` for anything out of shape."""
    if not data.endswith(b"\n"):
        raise _Malformed("export does not end with a newline")
    cut = data.rfind(b"\n", 0, len(data) - 1) + 1
    content, last = data[:cut], data[cut:]
    is_csv = data.startswith(_csv_line(CSV_COLUMNS))
    records = list((_parse_csv if is_csv else _parse_jsonl)(content + last))
    trailer = records.pop()
    if trailer.get("kind") != "trailer" or not records or records[0].get("kind") != "header":
        raise _Malformed("an export starts with a header and ends with a trailer")
    keys = {r["kid"]: r["public_key"] for r in records if r.get("kind") == "key"}
    events = [r for r in records if r.get("kind") == "event"]
    cps = [r for r in records if r.get("kind") == "checkpoint"]
    if len(records) != 1 + len(keys) + len(events) + len(cps):
        raise _Malformed("unknown record kind")
    for kid in check_keys(keys):
        raise _Malformed(f"public key does not match its id {kid}")
    void = _void_ranges(events)
    cps = [cp for cp in cps if not any(a < int(cp["seq"]) <= b for a, b in void)]
    return _Export(content, records[0], trailer, keys, events, cps)


def _check_chain(
    export: _Export, witness: dict[str, Any] | None, witness_kids: set[str]
) -> tuple[ChainChecker, list[Failure]]:
    """Recompute the chain; check every checkpoint's signature and place in it, and the
    witness's countersigned checkpoint if one is given."""
    keys, cps = export.keys, export.checkpoints
    failures: list[Failure] = [f for f in (check_signature(cp, keys) for cp in cps) if f]
    witnessed = _witnessed(witness, keys, witness_kids, failures) if witness is not None else None
    want = {int(cp["seq"]) for cp in cps}
    if witnessed is not None:
        want.add(int(witnessed["seq"]))
    from_seq = int(export.header["from_seq"])
    checker = ChainChecker(
        start_seq=from_seq,
        start_prev=export.header["start_prev_hash"],
        want=want,
    )
    checker.feed(
        (e["seq"], e["prev_hash"], e["hash"], canonical_json(e["event"])) for e in export.events
    )
    if checker.failure is not None:
        failures.append(checker.failure)
    failures += check_against_chain(cps, checker.hashes_at, checker.last_seq)
    if witnessed is not None and checker.failure is None:
        failures += _against_witness(witnessed, from_seq, checker)
    return checker, failures


def _check_trailer(export: _Export, checker: ChainChecker) -> VerifyResult:
    """The trailer: the digest of every byte before it, its signature, and the end of
    the chain it names (a cut export whose chain still holds fails here)."""
    trailer, count, cps = export.trailer, checker.count, len(export.checkpoints)
    if trailer.get("sha256") != hashlib.sha256(export.content).hexdigest():
        return VerifyResult(False, count, cps, None, "digest mismatch",
                            "the export's bytes differ from what was signed")  # fmt: skip
    public = export.keys.get(trailer.get("kid", ""))
    if public is None or not verify_signature(
        public, _trailer_payload(trailer), trailer.get("signature", "")
    ):
        return VerifyResult(False, count, cps, None, "bad signature",
                            "the export trailer's signature does not verify")  # fmt: skip
    events = export.events
    last_hash = events[-1]["hash"] if events else None
    if (trailer["events"], trailer["last_seq"], trailer["last_hash"]) != (
        len(events),
        checker.last_seq,
        last_hash,
    ):
        return VerifyResult(False, count, cps, checker.last_seq + 1, "truncated",
                            "the trailer names a different end of the chain")  # fmt: skip
    return _vouched(trailer, count, cps)


def _vouched(trailer: dict[str, Any], count: int, cps: int) -> VerifyResult:
    """What the signed trailer says the gateway does not vouch for (red team 24): an
    export taken while the trail was sealed is evidence, not a verified trail; events
    from ``unvouched_from`` on carry no MAC of the gateways'."""
    unvouched = trailer.get("unvouched_from")
    if unvouched is not None and not (isinstance(unvouched, int) and unvouched >= 1):
        raise _Malformed("the trailer's unvouched_from is not a seq")
    if "sealed" in trailer:
        return VerifyResult(False, count, cps, unvouched, "sealed",
                            f"exported while the trail was sealed ({trailer['sealed']}): "
                            "evidence of a broken trail, not a verified one")  # fmt: skip
    if unvouched is not None:
        return VerifyResult(False, count, cps, unvouched, "unvouched",
                            "the exporting gateway found no MAC of its own on this event "
                            "and those after it: not written by a gateway")  # fmt: skip
    return VerifyResult(True, count, cps)


def _void_ranges(events: list[dict[str, Any]]) -> list[tuple[int, int]]:
    """Seq ranges whose old checkpoints an unseal declared void, as the chain itself
    says (``audit.unsealed`` events: hashed, and covered by the next checkpoint): up to
    ``superseded_to``, and each forged row's seq (``audit.seal.Epoch.void``)."""
    out = []
    for e in events:
        body = e["event"]
        if isinstance(body, dict) and body.get("type") == "audit.unsealed":
            details = body.get("details") or {}
            anchor, to = int(details.get("anchor_seq", 0)), int(details.get("superseded_to", 0))
            if to > anchor:
                out.append((anchor, to))
            forged = details.get("forged_checkpoints") or []
            out.extend((int(seq) - 1, int(seq)) for seq in forged if type(seq) is int)
    return out


def _witnessed(
    receipt: dict[str, Any], keys: dict[str, str], pinned: set[str], failures: list[Failure]
) -> dict[str, Any] | None:
    """The checkpoint of a witness receipt, if its signatures hold with a pinned witness
    key that is none of the export's own signing keys (else a failure)."""
    cp = receipt.get("checkpoint")
    if not isinstance(cp, dict):
        raise _Malformed("the witness receipt has no checkpoint")
    seq = int(cp["seq"])
    problem = check_signature(cp, keys)
    if problem is not None:
        failures.append(Failure(seq, "witness", "witnessed checkpoint: " + problem.detail))
        return None
    wkey, wkid = str(receipt.get("witness_key", "")), str(receipt.get("witness_kid", ""))
    try:
        key_ok = kid_for(unb64(wkey)) == wkid
    except (ValueError, TypeError):
        key_ok = False
    signature = str(receipt.get("countersignature", ""))
    if not key_ok or not verify_signature(wkey, countersign_payload(receipt), signature):
        failures.append(Failure(seq, "witness", "the witness countersignature does not verify"))
        return None
    if wkid not in pinned or wkid in keys:  # a gateway is not its own witness
        failures.append(Failure(seq, "witness", f"the witness key {wkid} is not pinned, or is "
                                "one of the export's own signing keys"))  # fmt: skip
        return None
    return cp


def _against_witness(cp: dict[str, Any], from_seq: int, checker: ChainChecker) -> list[Failure]:
    """The export against the witnessed checkpoint, which it must reach. One before its
    first event vouches for none of it (an export taken from a later seq, its events
    whatever its signer wrote, passed untouched: red team 48), unless it is the very
    link the export starts from."""
    seq = int(cp["seq"])
    if seq == from_seq - 1 and cp["hash"] == checker.start_prev:
        return []
    if seq < from_seq:
        detail = f"the witness countersigned seq {seq}, before the export's first event"
        return [Failure(from_seq, "witness", f"{detail} ({from_seq}): it vouches for none of it")]
    if seq > checker.last_seq:
        return [Failure(checker.last_seq + 1, "truncated",
                        f"a witness countersigned seq {seq}; the export ends at "
                        f"{checker.last_seq}")]  # fmt: skip
    if checker.hashes_at.get(seq) != cp["hash"]:
        return [Failure(seq, "witness mismatch", "the export differs from the witness")]
    return []
