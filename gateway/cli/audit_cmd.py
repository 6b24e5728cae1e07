"""``sluice audit``: verify (the database or an export file), export, rotate keys.

``verify --file`` needs no database and no settings: it is what an outside reviewer
runs on an export. It refuses to trust the keys inside the export: the signing key ids
must be pinned (``--trusted-kid``, or ``--trust`` the gateway's published key list /
a JWKS file), and ``--witness`` checks the export against a witness's countersigned
checkpoint, the witness's key pinned the same way (``--witness-kid``,
``--witness-trust``). ``verify`` on the database compares the chain with its witnesses first
and never appends to a chain it could not verify: a failure seals the trail instead.
"""

from __future__ import annotations

import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import click
import orjson

from audit.checkpoints import check_keys
from audit.event_types import EventType, Outcome
from audit.export import (
    ExportTally,
    export_lines,
    require_start_within,
    verify_export,
    whole_trail,
)
from audit.log import AuditLog
from audit.records import Actor, audit_access_event, key_event
from audit.verify import verify_sealing
from catalog.errors import SluiceError
from gateway.cli.download import Destination
from gateway.cli.host_login import host_login
from gateway.cli.shown import shown_json_line
from gateway.cli.terminal_text import TerminalText


def _open(*, background: bool = False) -> AuditLog:
    from gateway.cli.store import migrated_url
    from gateway.core.settings import load_settings

    settings = load_settings()
    url = migrated_url(settings)
    return AuditLog.open(
        url=url,
        home=settings.home,
        checkpoint_every=settings.audit_checkpoint_every,
        checkpoint_seconds=settings.audit_checkpoint_seconds,
        append_timeout_s=settings.audit_append_timeout_s,
        witnesses=list(settings.witnesses),
        gateway_id=settings.gateway_id,
        background=background,
    )


def _trusted_kids(path: Path) -> set[str]:
    """Key ids from the gateway's key list (``GET /api/v1/audit/keys``) or a JWKS.

    Each entry's public key must hash to its id (ids are fingerprints), so a trust
    file cannot pin a name while carrying a substituted key."""
    try:
        doc = orjson.loads(path.read_bytes())
    except orjson.JSONDecodeError as exc:
        raise click.ClickException(f"{path} is not JSON") from exc
    items = doc.get("keys") if isinstance(doc, dict) else doc
    if not isinstance(items, list):
        raise click.ClickException(f"{path}: expected {{'keys': [...]}} or a list of keys")
    keys: dict[str, str] = {}
    for item in items:
        if not isinstance(item, dict) or not isinstance(item.get("kid"), str):
            raise click.ClickException(f"{path}: every key needs a kid")
        public = item.get("public_key", item.get("x"))
        if not isinstance(public, str):
            raise click.ClickException(f"{path}: key {item['kid']} has no public key")
        keys[item["kid"]] = public
    bad = check_keys(keys)
    if bad:
        raise click.ClickException(f"{path}: public keys do not match their ids: {bad}")
    return set(keys)


def _pinned(kids: tuple[str, ...], files: tuple[Path, ...]) -> set[str]:
    """Key ids pinned one by one and by key-list files."""
    pinned = set(kids)
    for path in files:
        pinned |= _trusted_kids(path)
    return pinned


def _witness_receipt(path: Path) -> dict[str, Any]:
    """A witness's countersigned checkpoint: the JSON of ``GET /api/v1/witness/
    checkpoints/<gateway-id>`` on the witness, or the last line of a receipts file."""
    lines = [line for line in path.read_bytes().splitlines() if line.strip()]
    try:
        doc = orjson.loads(lines[-1] if len(lines) > 1 else path.read_bytes())
    except (orjson.JSONDecodeError, IndexError) as exc:
        raise click.ClickException(f"{path} is not a witness receipt") from exc
    if not isinstance(doc, dict) or "checkpoint" not in doc:
        raise click.ClickException(f"{path} is not a witness receipt")
    return doc


def _record(log: AuditLog, etype: str, details: dict[str, object], **end: Any) -> None:
    log.append(audit_access_event(type_=etype, actor=Actor.cli(host_login()), details=details,
                                  **end))  # fmt: skip


def _tallied(lines: Iterator[tuple[bytes, int | None]], tally: ExportTally) -> Iterator[bytes]:
    """The export's lines, each counted once written (the end names what was)."""
    for line, seq in lines:
        yield line
        tally.add(line, 0 if seq is None else 1, seq)


def _end(tally: ExportTally, why: dict[str, object], outcome: Outcome) -> dict[str, Any]:
    """``_record``'s end: the details with what was written, the outcome, the rows."""
    return {"details": tally.details(why), "outcome": outcome, "delivery": tally.delivery()}


@click.group("audit")
def audit() -> None:
    """The tamper-evident audit trail."""


_FILE = click.Path(exists=True, dir_okay=False, path_type=Path)


@audit.command("verify")
@click.option("--from", "from_seq", type=int, default=None, help="first seq to check")
@click.option("--to", "to_seq", type=int, default=None, help="last seq to check")
@click.option("--file", "file", type=_FILE)
@click.option("--trusted-kid", "trusted", multiple=True, help="pin a published key id")
@click.option(
    "--trust",
    "trust",
    multiple=True,
    type=_FILE,
    help="pin every key of a key list (GET /api/v1/audit/keys) or JWKS file",
)
@click.option(
    "--witness",
    "witness",
    type=_FILE,
    help="a witness's countersigned checkpoint the export must reach",
)
@click.option(
    "--witness-kid",
    "witness_kids",
    multiple=True,
    help="pin the witness's published key id (needed with --witness)",
)
@click.option(
    "--witness-trust",
    "witness_trust",
    multiple=True,
    type=_FILE,
    help="pin every key of the witness's key list (its GET /api/v1/audit/keys)",
)
def verify(
    from_seq: int | None,
    to_seq: int | None,
    file: Path | None,
    trusted: tuple[str, ...],
    trust: tuple[Path, ...],
    witness: Path | None,
    witness_kids: tuple[str, ...],
    witness_trust: tuple[Path, ...],
) -> None:
    """Recompute the chain and check every signature; exit 1 on the first bad seq."""
    if file is not None:
        kids, witnesses = _pinned(trusted, trust), _pinned(witness_kids, witness_trust)
        receipt = _witness_receipt(witness) if witness is not None else None
        outcome = verify_export(file.read_bytes(), trusted_kids=kids, witness=receipt,
                                witness_kids=witnesses)  # fmt: skip
        result = outcome.to_dict()
    else:
        log = _open()
        try:
            result = _verify_database(log, from_seq, to_seq)
        finally:
            log.close()
    click.echo(shown_json_line(result))  # a tampered input's text, escaped
    if not result["ok"]:
        if result.get("reason") in ("unpinned keys", "unpinned witness key"):
            click.echo(f"FAILED: {result['detail']}", err=True)
        sys.exit(1)


def _verify_database(log: AuditLog, from_seq: int | None, to_seq: int | None) -> dict[str, Any]:
    """Witnesses first, then the chain; only a verified, unsealed chain gets an event."""
    log.monitor.check(remote=True)
    result = verify_sealing(store=log.store, witness_file=log.witness_file, seal=log.seal,
                            from_seq=from_seq, to_seq=to_seq)  # fmt: skip
    if log.seal.sealed:
        log.seal.record("access", sub=f"cli:{host_login()}", action="audit.verified",
                        details=result)  # fmt: skip
        return result
    _record(log, "audit.verified", {"from": from_seq, "to": to_seq, **result})
    return result


@audit.command("export")
@click.option("--format", "fmt", type=click.Choice(["jsonl", "csv"]), default="jsonl")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), default=None)
@click.option("--from", "from_seq", type=click.IntRange(min=1), default=None)
@click.option("--to", "to_seq", type=click.IntRange(min=1), default=None)
def export(fmt: str, out: Path | None, from_seq: int | None, to_seq: int | None) -> None:
    """Write a self-verifying export (events, checkpoints, public keys, signed trailer)."""
    log = _open()
    try:
        try:  # a range holding no event is a proof of nothing, as at the API (red team 29)
            require_start_within(log.store, from_seq, to_seq)
        except SluiceError as exc:
            raise click.ClickException(exc.message) from None
        sealed = log.seal.reason if log.seal.sealed else None
        details: dict[str, object] = {"format": fmt, "from": from_seq, "to": to_seq}
        written = ExportTally()
        lines = _tallied(export_lines(
            store=log.store, signer=log.signer, fmt=fmt,  # type: ignore[arg-type]
            from_seq=from_seq, to_seq=to_seq, sealed=sealed), written)  # fmt: skip
        if sealed is None:
            _write_on_record(log, lines, written, details, out)
            return
        _write(lines, out)
        digest = written.digest.hexdigest()
        if not whole_trail(from_seq, to_seq):  # a range is no evidence (red team 29)
            # but an access to the sealed trail, on record where it can be (the seal file),
            # as the API's export of a range while sealed is
            log.seal.record("access", sub=f"cli:{host_login()}", action="audit.exported",
                            details={**details, "sha256": digest})  # fmt: skip
            click.echo("sealed: a range is not evidence for unsealing (export the whole "
                       "trail for that)", err=True)  # fmt: skip
            return
        # evidence for the two-person unseal
        log.seal.record("evidence_exported", sub=f"cli:{host_login()}", sha256=digest,
                        details=details)  # fmt: skip
        click.echo(f"sealed: evidence sha256 {digest}", err=True)
    finally:
        log.close()


def _write_on_record(log: AuditLog, lines: Iterator[bytes], written: ExportTally,
                     details: dict[str, object], out: Path | None) -> None:  # fmt: skip
    """The export's start and its end on record under one request id, as the API's:
    the never-ended rule reads them (a start with no end is an export killed)."""
    request_id = uuid.uuid4().hex
    _record(log, "audit.exported", details, request_id=request_id)
    try:
        _write(lines, out)
    except BaseException:
        cut = _end(written, {**details, "reason": "cancelled"}, Outcome.ABORTED)
        _record(log, "audit.export_aborted", request_id=request_id, **cut)
        raise
    _record(log, "audit.export_completed", request_id=request_id,
            **_end(written, details, Outcome.OK))  # fmt: skip


def _write(chunks: Iterator[bytes], out: Path | None) -> None:
    """The export to ``out``, or to the standard output. A file is written as a query's
    result is (``Destination``: ``FILE.part`` created fresh, 0600, renamed whole over
    whatever was at the path): the trail is for officers, and ``open("wb")`` had made it
    0644 under the usual umask, written into a file another user left at the path (and
    kept open) and followed a link there (red team 34)."""
    if out is None:
        # on a terminal the controls of what the trail quotes (an analyst's case
        # reference, a purpose) arrive escaped; to a pipe the bytes are the export's
        # (red team 61)
        if not sys.stdout.isatty():
            for chunk in chunks:
                sys.stdout.buffer.write(chunk)
            sys.stdout.buffer.flush()
            return
        shown = TerminalText(sys.stdout.buffer)
        for chunk in chunks:
            shown.write(chunk)
        shown.close()
        return
    destination = Destination(out, force=True, fmt="jsonl")
    destination.prepare()
    handle = destination.open()
    try:
        for chunk in chunks:
            handle.write(chunk)
    except BaseException:
        destination.discard()
        raise
    destination.commit()
    click.echo(f"wrote {out}", err=True)


@audit.group("keys")
def keys() -> None:
    """Checkpoint signing keys."""


@keys.command("rotate")
def rotate() -> None:
    """Sign new checkpoints with a fresh key; old public keys stay published."""
    log = _open()
    try:
        if log.seal.sealed:  # its record could not be written: no rotation (red team 8)
            raise click.ClickException(f"{log.seal.message()}: no key rotation until unsealed")
        previous = getattr(log.signer, "kid", None)
        kid = log.rotate_signing_key()
        # on record after the rotation, since the record names the new key (published
        # in audit_keys already); an append that fails makes the command fail, said
        details = {"kid": kid, "previous_kid": previous}
        log.append(key_event(type_=EventType.KEYS_ROTATED, actor=Actor.cli(host_login()),
                             resource="keys:audit", details=details))  # fmt: skip
        click.echo(kid)
    finally:
        log.close()
