"""structlog setup: JSON lines in production, readable console output in development."""

from __future__ import annotations

import logging

import structlog


def configure_logging(*, env: str, level: str = "INFO") -> None:
    renderer: structlog.types.Processor
    if env == "production":
        renderer = structlog.processors.JSONRenderer()
    else:
        renderer = structlog.dev.ConsoleRenderer(colors=False)
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.format_exc_info,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(
            logging.getLevelNamesMapping().get(level.upper(), logging.INFO)
        ),
        # not cached: module-level loggers must follow a later configure_logging (tests
        # capture them; several apps may configure in one process); the hot path logs
        # only on failures, so the lookup cost does not matter
        cache_logger_on_first_use=False,
    )
