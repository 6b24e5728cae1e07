"""The collaborators of one gateway process, built once in ``create_app`` and passed in.

Tests build their own ``Services`` (real databases, fixed clocks) instead of patching.
Each slot is owned by one package; ``build_services`` wires the defaults.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from adapters.credentials import build_keyring
from audit.alert_push import start_alert_pusher
from catalog.db import make_engine, make_session_factory, migrate
from gateway.auth.authenticator import build_authenticator
from gateway.limits import build_limiter
from gateway.routes.audit import build_audit_log
from gateway.settings import Settings
from policies.pdp import build_pdp
from policies.rbac import Authorizer


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
    limiter: Any = None  # gateway.limits: rate limits and daily row quotas
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


def build_services(settings: Settings) -> Services:
    """Create the home directory, migrate the database and wire every default."""
    settings.home.mkdir(parents=True, exist_ok=True)
    url = settings.resolved_database_url
    migrate(url)
    engine = make_engine(url)
    services = Services(settings=settings, engine=engine, sessions=make_session_factory(engine))
    # --- wiring: each package adds its own default here ---
    services.keyring = build_keyring(settings, services.sessions)
    services.authenticator = build_authenticator(settings)
    services.audit = build_audit_log(settings)
    services.on_close.append(start_alert_pusher(settings, services.audit))  # issue 12
    services.authorizer = Authorizer(engine)
    services.authorizer.seed_defaults()
    services.pdp = build_pdp(opa_url=settings.opa_url)
    services.limiter = build_limiter(
        rate=settings.rate_limit, daily_rows=settings.daily_row_quota, redis_url=settings.redis_url
    )
    return services
