"""One line instead of a traceback when a database the command needs does not answer.

The operator is on the host and needs to know which database did not answer (the
driver's first line names host and port, never the URL's password), not a stack of
SQLAlchemy frames (red team 21). Only connection-level failures are turned into a line,
and a file of the home refused as not the home's own (a link, a FIFO: red team 35's
left row), which names the file: anything else is a bug and keeps its traceback."""

from __future__ import annotations

import sys


def unavailable_message(exc: BaseException) -> str | None:
    """The line for ``exc`` if it says a database is unreachable, else None. Looks only
    at modules already imported: a command that never touched a database pays nothing."""
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
    return None
