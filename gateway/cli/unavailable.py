"""One line instead of a traceback when a database the command needs does not answer.

The operator is on the host and needs to know which database did not answer (the
driver's first line names host and port, never the URL's password), not a stack of
SQLAlchemy frames (red team 21). Only connection-level failures are turned into a line,
a file of the home refused as not the home's own (a link, a FIFO: red team 35's
left row), which names the file, and a schema revision this release does not know (a
database migrated by a newer release, or a row an insider added to ``alembic_version``:
red team 61): anything else is a bug and keeps its traceback. Each line is shown with
its controls escaped (``catalog.controls.one_line``): it quotes what the database or the
home holds, and a revision holding an escape sequence ran in the operator's terminal."""

from __future__ import annotations

import sys


def unavailable_message(exc: BaseException) -> str | None:
    """The line for ``exc`` if it says a database is unreachable or at a schema this
    release does not know, else None; its controls escaped."""
    found = _message(exc)
    if found is None:
        return None
    from catalog.controls import one_line

    return one_line(found)


def _schema_errors() -> tuple[type[BaseException], ...]:
    """alembic's errors for a revision it cannot place (loaded only if alembic was)."""
    kinds = (
        getattr(sys.modules.get("alembic.util.exc"), "CommandError", None),
        getattr(sys.modules.get("alembic.script.revision"), "RevisionError", None),
    )
    return tuple(k for k in kinds if isinstance(k, type))


def _message(exc: BaseException) -> str | None:
    """Looks only at modules already imported: a command that never touched a database
    pays nothing."""
    private = sys.modules.get("catalog.private_files")
    if private is not None and isinstance(exc, private.RefusedFile):
        return f"refused: {exc}"  # a key or record of the home that is not its own file
    errors = sys.modules.get("catalog.errors")
    if errors is not None and isinstance(exc, errors.Unavailable):
        return f"unavailable: {exc.message}"
    sa_exc = sys.modules.get("sqlalchemy.exc")
    if sa_exc is not None and isinstance(exc, sa_exc.OperationalError | sa_exc.InterfaceError):
        cause = exc.__cause__ or getattr(exc, "orig", None) or exc
        first = (str(cause).splitlines() or [type(cause).__name__])[0]
        return f"database unavailable: {first}"
    schema = _schema_errors()
    if schema and isinstance(exc, schema):
        return (
            f"schema: {exc} (the database records a revision this release does not "
            "know: `sluice doctor` compares them)"
        )
    return None
