"""``get_logger(name)``: the audit modules' structlog logger, imported on its first call.

Importing structlog imports its development renderer, and with it rich and colorama,
whether or not anything is logged: about a quarter of what ``sluice token`` imported
once the SQLAlchemy stack was gone (issue 17), since it opens an audit log to record
``token.issued``. The audit modules log only when something fails, so the import waits
for the first line. Each call asks ``structlog.get_logger(name)`` afresh, as a
structlog proxy does without ``cache_logger_on_first_use`` (``gateway.core.logs``
turns it off): the configuration in force at the call, tests' ``capture_logs``
included, applies.
"""

from __future__ import annotations

import sys
from typing import Any


class LazyLogger:
    """A named logger whose methods (``error``, ``warning``, …) resolve on each call."""

    __slots__ = ("name",)

    def __init__(self, name: str) -> None:
        self.name = name

    def __getattr__(self, method: str) -> Any:
        import structlog

        logs_to_stderr()
        return getattr(structlog.get_logger(self.name), method)


def get_logger(name: str) -> LazyLogger:
    return LazyLogger(name)


def logs_to_stderr() -> None:
    """Where nothing configured structlog (a CLI command; ``sluice serve`` and the app
    configure it, ``gateway.core.logs``), its lines go to stderr, not to structlog's
    default stdout: ``TOKEN=$(sluice token alice)`` held the audit log's warnings
    before the token when a witness did not answer."""
    import structlog

    if not structlog.is_configured():
        from catalog.controls import escaped_controls

        # structlog's processors, a logged exception as text and every text value's
        # controls escaped before the renderer: the console renderer printed a value of
        # no white space as it was, and a trigger message an insider wrote into
        # ``audit_append_failed`` ran in the operator's terminal (red team 62)
        *processors, renderer = structlog.get_config()["processors"]
        structlog.configure(
            processors=[*processors, structlog.processors.format_exc_info, escaped_controls,
                        renderer],
            logger_factory=_stderr_logger, cache_logger_on_first_use=False,
        )  # fmt: skip


def _stderr_logger(*_args: object) -> Any:
    import structlog

    return structlog.PrintLogger(sys.stderr)  # resolved per logger: tests swap sys.stderr
