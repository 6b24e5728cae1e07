"""``AuditSink``: what the gateway calls on the audit trail, as a seam.

The gateway's data path, its stewardship services and its error handlers only *write*
events and read whether the trail is sealed; they never need the store, the signer or
the witnesses. Typing them against this Protocol instead of ``AuditLog`` lets a reader
(and mypy) see exactly which promises they rely on, and lets a test hand in another
sink without patching. ``audit.log.AuditLog`` is the one implementation; the officers'
routes that read, verify and export the trail take the whole ``AuditLog``.

Every write is fail-closed: a sink raises (``catalog.errors.Unavailable``) rather than
drop an event the caller waits for. There is no "no audit" sink — a gateway without a
trail would be a gateway that answers without a record.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol

from audit.events import FamilyEvent
from audit.writer import Receipt


class SealView(Protocol):
    """The fast check on a sealed trail (the chain disagreed with its witnesses):
    data endpoints answer 503 while it holds."""

    @property
    def sealed(self) -> bool: ...

    def message(self) -> str:
        """Why the trail is sealed, for the 503 a refused append carries."""
        ...


class AppendInFlight(Protocol):
    """A durable append submitted but not yet confirmed (see ``AuditSink.submit``)."""

    def wait(self) -> Receipt:
        """Block until the event is durable; raise ``Unavailable`` past the bound."""
        ...


class AuditSink(Protocol):
    """The write side of the audit trail the gateway holds (``Services.audit``)."""

    @property
    def seal(self) -> SealView: ...

    def append(self, event: Mapping[str, object] | FamilyEvent) -> Receipt:
        """Write one event durably and return its receipt; raise if it is not."""
        ...

    def submit(self, event: Mapping[str, object] | FamilyEvent) -> AppendInFlight:
        """Start a durable append and return at once, so the caller may prepare (never
        send) while the commit runs."""
        ...

    def append_nowait(self, event: Mapping[str, object] | FamilyEvent) -> None:
        """Queue an event whose loss the trail tolerates (a completion after a durable
        start); validation still raises at once."""
        ...

    def close(self) -> None:
        """Flush what is queued and sign a final checkpoint (shutdown)."""
        ...
