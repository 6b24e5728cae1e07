"""``sluice audit``: verify (the database or an export file), export, rotate keys.

``verify --file`` needs no database and no settings: it is what an outside reviewer
runs on an export, optionally pinning the key ids published by the gateway.
"""

from __future__ import annotations

import getpass
import sys
from pathlib import Path

import click
import orjson

from audit.export import export_stream, verify_export
from audit.log import AuditLog
from audit.verify import verify_database


def _open() -> AuditLog:
    from gateway.cli.store import migrated_url
    from gateway.settings import load_settings

    settings = load_settings()
    url = migrated_url(settings)
    return AuditLog.open(
        url=url,
        home=settings.home,
        checkpoint_every=settings.audit_checkpoint_every,
        checkpoint_seconds=settings.audit_checkpoint_seconds,
        append_timeout_s=settings.audit_append_timeout_s,
    )


def _record(log: AuditLog, etype: str, details: dict[str, object]) -> None:
    log.append(
        {
            "type": etype,
            "outcome": "ok",
            "actor": {"sub": f"cli:{getpass.getuser()}", "dept": None, "roles": ["cli"]},
            "resource": "audit",
            "details": details,
        }
    )


@click.group("audit")
def audit() -> None:
    """The tamper-evident audit trail."""


@audit.command("verify")
@click.option("--from", "from_seq", type=int, default=None, help="first seq to check")
@click.option("--to", "to_seq", type=int, default=None, help="last seq to check")
@click.option("--file", "file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--trusted-kid", "trusted", multiple=True, help="pin a published key id")
def verify(
    from_seq: int | None, to_seq: int | None, file: Path | None, trusted: tuple[str, ...]
) -> None:
    """Recompute the chain and check every signature; exit 1 on the first bad seq."""
    if file is not None:
        outcome = verify_export(file.read_bytes(), trusted_kids=set(trusted) or None)
    else:
        log = _open()
        try:
            outcome = verify_database(
                store=log.store, witness_file=log.witness_file, from_seq=from_seq, to_seq=to_seq
            )
            _record(log, "audit.verified", {"from": from_seq, "to": to_seq, **outcome.to_dict()})
        finally:
            log.close()
    click.echo(orjson.dumps(outcome.to_dict()).decode())
    if not outcome.ok:
        sys.exit(1)


@audit.command("export")
@click.option("--format", "fmt", type=click.Choice(["jsonl", "csv"]), default="jsonl")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), default=None)
@click.option("--from", "from_seq", type=int, default=None)
@click.option("--to", "to_seq", type=int, default=None)
def export(fmt: str, out: Path | None, from_seq: int | None, to_seq: int | None) -> None:
    """Write a self-verifying export (events, checkpoints, public keys, signed trailer)."""
    log = _open()
    try:
        _record(log, "audit.exported", {"format": fmt, "from": from_seq, "to": to_seq})
        chunks = export_stream(
            store=log.store,
            signer=log.signer,
            fmt=fmt,  # type: ignore[arg-type]
            from_seq=from_seq,
            to_seq=to_seq,
        )
        if out is None:
            for chunk in chunks:
                sys.stdout.buffer.write(chunk)
            sys.stdout.buffer.flush()
        else:
            with out.open("wb") as handle:
                for chunk in chunks:
                    handle.write(chunk)
            click.echo(f"wrote {out}", err=True)
    finally:
        log.close()


@audit.group("keys")
def keys() -> None:
    """Checkpoint signing keys."""


@keys.command("rotate")
def rotate() -> None:
    """Sign new checkpoints with a fresh key; old public keys stay published."""
    log = _open()
    try:
        click.echo(log.rotate_signing_key())
    finally:
        log.close()
