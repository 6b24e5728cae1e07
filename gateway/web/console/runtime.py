"""The console's collaborators, built once by ``mount_console`` and kept on the app.

Pages reach them through ``get_console(request)``; tests build the app with their own
``ConsoleSettings`` (short idle timeouts, a low lockout threshold) instead of patching.
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections import deque
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, runtime_checkable

from fastapi import Request
from jinja2 import Environment

from catalog.errors import Unavailable
from gateway.core.services import Services
from gateway.stewardship.users.directory import IdentityDirectory
from gateway.web.console.passwords import LocalAccounts
from gateway.web.console.sessions import SessionStore, Signer
from gateway.web.console.settings import ConsoleSettings


class AttemptWindow:
    """At most ``per_minute`` attempts per key (a client address) in any minute."""

    def __init__(self, per_minute: int, max_keys: int = 10_000) -> None:
        self._per_minute = per_minute
        self._max_keys = max_keys
        self._seen: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def take(self, key: str, now: float | None = None) -> bool:
        current = time.monotonic() if now is None else now
        with self._lock:
            if len(self._seen) >= self._max_keys and key not in self._seen:
                self._seen.clear()  # a flood of addresses: forget, never grow unbounded
            window = self._seen.setdefault(key, deque())
            while window and current - window[0] >= 60:
                window.popleft()
            if len(window) >= self._per_minute:
                return False
            window.append(current)
            return True


@runtime_checkable
class SharedFailures(Protocol):
    """A store of failure counts every process of the deployment shares
    (``enforcement.limits.Limiter``: Redis when configured)."""

    @property
    def shared(self) -> bool:
        """Whether other processes count there too (in process: the bounded memory of
        ``UnknownNames`` serves as well, and a flood of names cannot grow it)."""
        ...

    def count_failure(self, key: str, *, limit: int, window_s: int, lock_s: int) -> bool: ...


FAILURE_WINDOW_S = 86_400  # an account's failures last until it locks; a name's, a day


class UnknownNames:
    """Names no account holds, counted as an account's failed sign-ins are: after
    ``max_failures`` a name answers "locked" for ``lockout_s``, as an account would, so
    the page does not tell a name the gateway holds from one it does not (red team 10).
    Counted in ``shared`` when given, as accounts are counted in the catalog every
    process shares: per-process counts let a name spread over a gateway's workers and
    replicas stay unlocked while an account locked (red team 13). Otherwise, and when
    the shared store does not answer (a 503 there would tell names apart too), in memory
    and bounded: a flood of names is forgotten, never grown without end."""

    def __init__(self, max_failures: int, lockout_s: float, max_keys: int = 10_000,
                 shared: SharedFailures | None = None) -> None:  # fmt: skip
        self._max_failures = max(1, max_failures)
        self._lockout_s = lockout_s
        self._max_keys = max_keys
        self._shared = shared
        self._seen: dict[str, tuple[int, float]] = {}  # name -> (failures, locked until)
        self._lock = threading.Lock()

    def failed(self, name: str, now: float | None = None) -> bool:
        """One more failure of ``name``; True when it answers "locked" now."""
        if self._shared is not None:
            key = hashlib.sha256(name.encode("utf-8", "surrogatepass")).hexdigest()[:32]
            try:
                return self._shared.count_failure(
                    key, limit=self._max_failures, window_s=FAILURE_WINDOW_S,
                    lock_s=max(1, int(self._lockout_s)),
                )  # fmt: skip
            except Unavailable:
                pass
        current = time.monotonic() if now is None else now
        with self._lock:
            if len(self._seen) >= self._max_keys and name not in self._seen:
                self._seen.clear()
            failures, until = self._seen.get(name, (0, 0.0))
            if until > current:
                return True  # locked: as an account's lock, the password is not looked at
            failures += 1
            if failures >= self._max_failures:
                self._seen[name] = (0, current + self._lockout_s)
                return True
            self._seen[name] = (failures, 0.0)
            return False


@dataclass
class Console:
    settings: ConsoleSettings
    services: Services
    directory: IdentityDirectory
    sessions: SessionStore
    accounts: LocalAccounts
    signer: Signer
    templates: Environment
    assets: Path | None
    attempts: AttemptWindow
    unknown_names: UnknownNames
    oidc: object | None = None  # gateway.web.console.oidc.OidcClient when configured

    @property
    def uses_oidc(self) -> bool:
        return self.oidc is not None


def get_console(request: Request) -> Console:
    console: Console = request.app.state.console
    return console
