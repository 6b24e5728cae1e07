"""The gateway's audit log, opened from the settings: its store, checkpoints, witnesses
and the book of witnesses it answers for (one place, so the CLI and the app agree)."""

from __future__ import annotations

from pathlib import Path

from audit.log import AuditLog
from audit.witness_book import WitnessBook
from gateway.core.settings import Settings


def build_audit_log(settings: Settings) -> AuditLog:
    """The gateway's audit log (``gateway.wiring.container`` wiring); close() it on shutdown.

    The same log answers as a witness for other gateways (``gateway.web.routes.witness``),
    countersigning with its audit key."""
    log = AuditLog.open(
        url=settings.resolved_database_url,
        home=Path(settings.home),
        checkpoint_every=settings.audit_checkpoint_every,
        checkpoint_seconds=settings.audit_checkpoint_seconds,
        append_timeout_s=settings.audit_append_timeout_s,
        witnesses=list(settings.witnesses),
        gateway_id=settings.gateway_id,
        monitor_seconds=settings.audit_monitor_seconds,
    )
    pins: dict[str, set[str]] = {}
    for item in settings.witness_trust:
        sender, _, kid = item.partition("=")
        pins.setdefault(sender.strip(), set()).add(kid.strip())
    log.witness_book = WitnessBook(home=Path(settings.home), signer=log.signer,
                                   name=log.gateway_id, pins=pins,
                                   tofu=settings.witness_tofu)  # fmt: skip
    return log
