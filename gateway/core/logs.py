"""structlog setup: JSON lines in production, readable console output in development,
on stderr (a command's stdout is its output).

Library loggers (uvicorn, alembic, casbin, httpx...) go through the same renderer, so an
operator reads one format; casbin's own per-decision lines ("Request: sam, civil,
dataset:query ---> False") are held at WARNING — decisions are on the audit trail, and
an enforcement line per request in the log is noise at best and a leak at worst.
"""

from __future__ import annotations

import logging
import sys

import structlog

from catalog.controls import escaped_controls
from gateway.core.log_exceptions import scrubbed_exc_info

# loggers that say too much at INFO for an operator's terminal
QUIET = {"casbin": logging.WARNING, "casbin.policy": logging.WARNING,
         "casbin.enforcer": logging.WARNING, "casbin.role": logging.WARNING,
         "httpx": logging.WARNING, "alembic.runtime.migration": logging.WARNING,
         "uvicorn.access": logging.WARNING}  # fmt: skip

_SHARED: list[structlog.types.Processor] = [
    structlog.contextvars.merge_contextvars,
    structlog.processors.add_log_level,
    structlog.processors.TimeStamper(fmt="iso", utc=True),
]


def _renderer(env: str) -> structlog.types.Processor:
    if env == "production":
        return structlog.processors.JSONRenderer()
    return structlog.dev.ConsoleRenderer(colors=False)


def _to_stderr(*_args: object) -> structlog.PrintLogger:
    """Log lines go where the libraries' go (the stdlib handler's stderr), resolved at
    each logger's creation: a command's stdout carries its output only (JSON a script
    reads), whatever a thread of an in-process gateway logs meanwhile (an opened alert
    once landed in ``sluice compare due``'s JSON in the tests)."""
    return structlog.PrintLogger(sys.stderr)


def configure_logging(*, env: str, level: str = "INFO") -> None:
    numeric = logging.getLevelNamesMapping().get(level.upper(), logging.INFO)
    renderer = _renderer(env)
    structlog.configure(
        processors=[*_SHARED, scrubbed_exc_info, escaped_controls, renderer],
        wrapper_class=structlog.make_filtering_bound_logger(numeric),
        # not cached: module-level loggers must follow a later configure_logging (tests
        # capture them; several apps may configure in one process); the hot path logs
        # only on failures, so the lookup cost does not matter
        cache_logger_on_first_use=False,
        logger_factory=_to_stderr,
    )
    _route_stdlib(renderer, numeric)


def _route_stdlib(renderer: structlog.types.Processor, level: int) -> None:
    """Send every stdlib logger (the libraries') through the same renderer."""
    handler = logging.StreamHandler()
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=[*_SHARED, structlog.stdlib.add_logger_name],
            processors=[
                structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                scrubbed_exc_info,
                escaped_controls,
                renderer,
            ],
        )
    )
    handler.set_name("sluice")
    root = logging.getLogger()
    root.handlers = [h for h in root.handlers if h.get_name() != "sluice"] + [handler]
    root.setLevel(level)
    for name in ("uvicorn", "uvicorn.error"):
        logger = logging.getLogger(name)
        logger.handlers = []  # uvicorn's own formatter would print a second, other format
        logger.propagate = True
        logger.disabled = False  # a library's dictConfig may have disabled it
    for name, quiet in QUIET.items():
        logging.getLogger(name).setLevel(max(quiet, level))
