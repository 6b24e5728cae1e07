"""The collaborators of one gateway process, built once by ``gateway.wiring`` and passed in.

Tests build their own ``Services`` (real databases, fixed clocks) instead of patching.
Every slot is typed by the seam its owner declares and every one is required: a
gateway without an audit trail, an authorizer or a limiter is not a smaller gateway
but an unsafe one, so there is no ``None`` for a caller to test and skip on.
``gateway.wiring.container.build_services`` wires the defaults. It lives at the bottom
so every room can name the type it is handed.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from adapters.keyring import SecretKeyring
from audit.sink import AuditSink
from gateway.core.seams import TokenAuthenticator, UsageLimiter
from gateway.core.settings import Settings
from policies.authorizer import RoleAuthorizer
from policies.decision import DecisionPoint


@dataclass
class Services:
    settings: Settings
    engine: Engine
    sessions: sessionmaker[Session]
    authenticator: TokenAuthenticator  # gateway.auth: token -> UserContext
    authorizer: RoleAuthorizer  # policies.rbac: who may call what
    pdp: DecisionPoint  # policies: what data a request sees
    audit: AuditSink  # audit: the append-only trail
    keyring: SecretKeyring  # adapters.credentials: envelope encryption of source secrets
    limiter: UsageLimiter  # gateway.enforcement.limits: rate limits and daily row quotas
    # run first on close, while the audit log is still open (the broker records the
    # queries still in flight as aborted)
    on_close: list[Callable[[], None]] = field(default_factory=list)

    def close(self) -> None:
        """Flush the audit writer and release connections (on shutdown, in tests)."""
        hooks, self.on_close = self.on_close, []
        for hook in hooks:
            hook()
        self.audit.close()
        self.engine.dispose()
