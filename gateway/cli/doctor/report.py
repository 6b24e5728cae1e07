"""What a doctor check answers, and what every check reads.

A check is a function of the ``Context`` returning ``Result`` lines: ``ok``, ``FAIL``
(with what to fix: the operator reads this line at the moment something is wrong, so it
names the command or setting, not only the symptom) or ``skip`` (the check does not
apply here). Secrets never reach a line: URLs are shown through ``redact_url`` and
secrets only as fingerprints.
"""

from __future__ import annotations

import hashlib
import re
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from enum import Enum
from typing import TYPE_CHECKING, Any

from catalog.controls import one_line

if TYPE_CHECKING:
    from gateway.core.settings import Settings

GUIDE = "docs/deploy.md"
_USERINFO = re.compile(r"(?P<scheme>[A-Za-z][A-Za-z0-9+.-]*://)[^/@\s]*@")


class Status(Enum):
    OK = "ok"
    FAIL = "FAIL"
    SKIP = "skip"


@dataclass(frozen=True)
class Result:
    """One line of the report."""

    status: Status
    check: str
    detail: str
    fix: str = ""

    def lines(self) -> list[str]:
        """The line, and its fix, with every control character escaped: a detail quotes
        names read from the database checked (triggers, rules, functions, owners), which
        its insider chooses, and a name holding escapes rewrote a FAIL line as an ok one
        on the operator's terminal (red team 59)."""
        head = f"  {self.status.value:<5} {self.check:<18} {one_line(self.detail)}"
        return [head] + ([f"        fix: {one_line(self.fix)}"] if self.fix else [])


def ok(check: str, detail: str) -> Result:
    return Result(Status.OK, check, detail)


def fail(check: str, detail: str, fix: str) -> Result:
    return Result(Status.FAIL, check, detail, fix)


def skip(check: str, detail: str) -> Result:
    return Result(Status.SKIP, check, detail)


def scrub(text: str) -> str:
    """A message that may quote a URL, with any ``user:password@`` removed (pydantic and
    driver errors repeat what they were given)."""
    return _USERINFO.sub(lambda m: m.group("scheme") + "***@", text)


def fingerprint(secret: bytes) -> str:
    """A short name for a secret that cannot be turned back into it: operators compare
    these across replicas, never the secrets."""
    return hashlib.sha256(b"sluice/doctor-fingerprint|" + secret).hexdigest()[:12]


@dataclass
class Context:
    """What the checks read: the settings (None when they could not be loaded at all),
    which secrets the settings refused, bounds, and a clock that tests may replace."""

    settings: Settings | None
    settings_errors: list[str] = field(default_factory=list)
    refused: frozenset[str] = frozenset()
    timeout_s: float = 3.0
    max_skew_s: float = 2.0
    clock: Callable[[], float] = time.time
    _connection: Any = field(default=None, repr=False)
    _connect_error: str | None = field(default=None, repr=False)

    @property
    def production(self) -> bool:
        return self.settings is not None and self.settings.env == "production"

    def need(self) -> Settings:
        """The settings; the runner runs no check that needs them when there are none."""
        if self.settings is None:
            raise RuntimeError("no settings could be loaded: this check cannot run")
        return self.settings

    @property
    def url(self) -> str:
        return self.need().resolved_database_url

    @property
    def dialect(self) -> str:
        return "sqlite" if self.url.startswith("sqlite") else "postgresql"

    def connection(self) -> Any:
        """One DB-API connection to the catalog and audit database, opened on first use
        (``None`` if it cannot be: ``connect_error`` says why). Read-only for SQLite, so
        the doctor never creates the database file."""
        if self._connection is None and self._connect_error is None:
            self._connection, self._connect_error = _open(self.url, self.timeout_s)
        return self._connection

    @property
    def connect_error(self) -> str | None:
        self.connection()
        return self._connect_error

    @contextmanager
    def transaction(self) -> Iterator[Any]:
        """A cursor in a transaction that is always rolled back: the doctor writes nothing."""
        conn = self.connection()
        cur = conn.cursor()
        try:
            yield cur
        finally:
            cur.close()
            conn.rollback()

    def close(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None


def _open(url: str, timeout_s: float) -> tuple[Any, str | None]:
    import sqlite3

    import psycopg
    from sqlalchemy.engine import make_url

    parsed = make_url(url)
    try:
        if parsed.get_backend_name() == "sqlite":
            path = parsed.database or ""
            return sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=timeout_s), None
        conninfo = parsed.set(drivername="postgresql").render_as_string(hide_password=False)
        return psycopg.connect(conninfo, connect_timeout=max(1, round(timeout_s))), None
    except (sqlite3.Error, psycopg.Error, OSError) as exc:
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        return None, scrub(first)
