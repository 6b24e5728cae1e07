"""The seam between a comparison run and whatever joins its sides.

An engine receives what the broker has already governed — each side's rows as policy
released them, filtered to the runner's jurisdiction, the keys replaced by their HMAC
tokens under the case key — as Arrow record-batch readers, plus the compiled model,
and returns the hits. It never sees a raw key, never decides what a side may read, and
never writes the audit trail: the run (``runs``) does all of that, the same way for
every engine, so a second engine (Spark) plugs in by implementing ``run`` and being
named in the registry the runner is given.

An engine that reads sources itself (``SourceReadingEngine``: Spark) may be handed, for
a side it says it ``reads``, a ``PlannedSide`` instead of a reader: the same side,
prepared and on record by the broker, with the frozen plan (projection, row filter,
masks, case key) for the engine to carry out; it reports what it read back through
``PlannedSide.read``, which ends the side on record as ``collect`` would.

What every engine must return, so hit lists are identical whichever ran them:

- the columns ``key_token`` (the first side's key token), then ``<alias>.<field>`` for
  each output field in model order, then any ``<alias>.__subject_token`` column its
  inputs carried (the run takes "who was matched" from them and drops them);
- the rows ordered by every output column in that order (nulls last), then cut to
  ``limit`` — ``truncated`` says whether more matched.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol, runtime_checkable

import pyarrow as pa

from catalog.errors import SluiceError
from gateway.enforcement.comparison.spec import CompiledModel

if TYPE_CHECKING:
    from gateway.enforcement.comparison.planned import PlannedSide

Progress = Callable[[float], None]
"""Called with the fraction (0–1) of the engine's own work done."""


class RunCancelled(SluiceError):
    """The run's owner cancelled it; what was started ends on record as aborted."""

    code = "cancelled"
    http_status = 409

    def __init__(self, message: str, *, reason: str = "cancelled") -> None:
        super().__init__(message)
        self.reason = reason  # "cancelled" (the owner) or "shutdown"


class CancelToken:
    """Set once by whoever cancels; checked by the run and the engine between steps."""

    def __init__(self) -> None:
        self._event = threading.Event()
        self.reason = "cancelled"

    def cancel(self, reason: str = "cancelled") -> None:
        if not self._event.is_set():
            self.reason = reason
        self._event.set()

    @property
    def cancelled(self) -> bool:
        return self._event.is_set()

    def check(self) -> None:
        """Raise ``RunCancelled`` if cancelled: the one way a step stops early."""
        if self._event.is_set():
            raise RunCancelled(f"the run was stopped ({self.reason})", reason=self.reason)

    def wait(self, seconds: float) -> bool:
        """Sleep up to ``seconds`` unless cancelled first; True when cancelled."""
        return self._event.wait(seconds)


@dataclass(frozen=True, slots=True)
class Hits:
    """An engine's answer: the hit table and whether more matched than ``limit``."""

    table: pa.Table
    truncated: bool


class ComparisonEngine(Protocol):
    """Joins governed sides by a compiled model."""

    @property
    def name(self) -> str:
        """How runs name it (``engine`` in the request and on record)."""
        ...

    def run(
        self,
        model: CompiledModel,
        sides: Mapping[str, pa.RecordBatchReader],
        *,
        limit: int,
        cancel: CancelToken,
        progress: Progress,
    ) -> Hits:
        """The hits of ``model`` over ``sides`` (alias → governed rows, columns named
        by field), at most ``limit`` of them; raises ``RunCancelled`` once ``cancel`` is
        set, ``TooLarge`` when the join would outgrow the engine."""
        ...


@runtime_checkable
class SourceReadingEngine(ComparisonEngine, Protocol):
    """An engine that can read a side from its source itself, governed by its plan."""

    def reads(self, side: PlannedSide) -> bool:
        """Whether it reads ``side`` itself (else the runner hands it the reader)."""
        ...

    def run(
        self,
        model: CompiledModel,
        sides: Mapping[str, pa.RecordBatchReader | PlannedSide],
        *,
        limit: int,
        cancel: CancelToken,
        progress: Progress,
    ) -> Hits: ...
