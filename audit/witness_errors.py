"""What a witness can answer besides a receipt, apart from the NATS client: the audit
log and its monitor handle both without importing ``nats`` (half a second at every
process start, CLI commands included) unless a NATS witness is configured."""

from __future__ import annotations

from typing import Any


class WitnessUnreachable(ValueError):
    """The stream could not be read or written (not evidence: the next tick retries).

    A ``ValueError`` so that callers treating an HTTP witness's unreadable answer as
    "unreachable" treat this one alike."""


class WitnessEvidence(Exception):
    """A checkpoint signed by this gateway went backwards in the stream: seal."""

    def __init__(self, reason: str, evidence: dict[str, Any]) -> None:
        super().__init__(reason)
        self.reason = reason
        self.evidence = evidence
