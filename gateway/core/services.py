"""The collaborators of one gateway process, built once by ``gateway.wiring`` and passed in.

Tests build their own ``Services`` (real databases, fixed clocks) instead of patching.
Each slot is owned by one package; ``gateway.wiring.container.build_services`` wires
the defaults. It lives at the bottom so every room can name the type it is handed.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from gateway.core.settings import Settings


@dataclass
class Services:
    settings: Settings
    engine: Engine
    sessions: sessionmaker[Session]
    authenticator: Any = None  # gateway.auth: token -> UserContext
    authorizer: Any = None  # policies.rbac: casbin enforcer (who may call what)
    pdp: Any = None  # policies: DecisionPoint (what data a request sees)
    audit: Any = None  # audit: the append-only trail
    keyring: Any = None  # adapters.credentials: envelope encryption of source secrets
    limiter: Any = None  # gateway.enforcement.limits: rate limits and daily row quotas
    # run first on close, while the audit log is still open (the broker records the
    # queries still in flight as aborted)
    on_close: list[Callable[[], None]] = field(default_factory=list)

    def close(self) -> None:
        """Flush the audit writer and release connections (on shutdown, in tests)."""
        hooks, self.on_close = self.on_close, []
        for hook in hooks:
            hook()
        if self.audit is not None:
            self.audit.close()
        self.engine.dispose()
