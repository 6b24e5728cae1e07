"""``build_services``: every default collaborator of one gateway process, wired from the
settings (the app, the CLI and the demo all start here)."""

from __future__ import annotations

from adapters.credentials import build_keyring
from catalog.db import make_engine, make_session_factory, migrate
from catalog.private_files import private_dir
from gateway.auth.authenticator import build_authenticator
from gateway.core.services import Services
from gateway.core.settings import Settings
from gateway.enforcement.limits import build_limiter
from gateway.stewardship.row_trail import install_row_bindings
from gateway.wiring.adoption_guard import start_row_seals
from gateway.wiring.alerts import start_alerts
from gateway.wiring.audit_log import build_audit_log
from policies.pdp_builder import build_pdp
from policies.rbac import Authorizer


def build_services(settings: Settings, *, run_alert_rules: bool = True) -> Services:
    """Create the home directory, migrate the database and wire every default.

    ``run_alert_rules=False`` for a CLI command: it would start a rule runner (and
    its pusher) for the second it lives, beside the gateway's own."""
    private_dir(settings.home)
    url = settings.resolved_database_url
    migrate(url)
    engine = make_engine(url)
    sessions = make_session_factory(engine)
    # --- wiring: each package adds its own default here ---
    keyring = build_keyring(settings, sessions)
    authenticator = build_authenticator(settings)
    audit = build_audit_log(settings)
    start_row_seals(url, engine, settings.home, audit)  # before the first read of a role
    install_row_bindings(url, audit)  # and each sealed row bound to the trail's newest
    authorizer = Authorizer(engine)
    authorizer.seed_defaults()
    limiter = build_limiter(
        rate=settings.rate_limit, daily_rows=settings.daily_row_quota, redis_url=settings.redis_url
    )
    services = Services(
        settings=settings,
        engine=engine,
        sessions=sessions,
        authenticator=authenticator,
        authorizer=authorizer,
        pdp=build_pdp(opa_url=settings.opa_url),
        audit=audit,
        keyring=keyring,
        limiter=limiter,
    )
    # issue 12: live alerts
    services.on_close.append(start_alerts(settings, audit, run=run_alert_rules))
    return services
