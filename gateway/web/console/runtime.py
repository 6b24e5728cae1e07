"""The console's collaborators, built once by ``mount_console`` and kept on the app.

Pages reach them through ``get_console(request)``; tests build the app with their own
``ConsoleSettings`` (short idle timeouts, a low lockout threshold) instead of patching.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from dataclasses import dataclass
from pathlib import Path

from fastapi import Request
from jinja2 import Environment

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
    oidc: object | None = None  # gateway.web.console.oidc.OidcClient when configured

    @property
    def uses_oidc(self) -> bool:
        return self.oidc is not None


def get_console(request: Request) -> Console:
    console: Console = request.app.state.console
    return console
