"""``mount_console``: the console's collaborators, routes and static files on the app."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.responses import RedirectResponse
from fastapi.staticfiles import StaticFiles

from gateway.auth.claims import claim_names_from
from gateway.core.services import Services
from gateway.stewardship.users.directory import IdentityDirectory
from gateway.web.console import assets, auth_pages
from gateway.web.console.oidc import OidcClient
from gateway.web.console.pages import PAGES
from gateway.web.console.passwords import LocalAccounts, PasswordTrail
from gateway.web.console.rendering import build_environment
from gateway.web.console.runtime import AttemptWindow, Console, SharedFailures, UnknownNames
from gateway.web.console.sessions import SessionStore, Signer, console_key
from gateway.web.console.settings import ConsoleSettings


def build_oidc(services: Services, settings: ConsoleSettings) -> OidcClient | None:
    """The OIDC client when the console has a client id at the gateway's provider."""
    gateway = services.settings
    if not settings.oidc_client_id:
        return None
    if not (gateway.oidc_issuer and gateway.oidc_jwks_url):
        raise ValueError("SLUICE_CONSOLE_OIDC_CLIENT_ID needs SLUICE_OIDC_ISSUER and "
                         "SLUICE_OIDC_JWKS_URL")  # fmt: skip
    secret = settings.oidc_client_secret
    return OidcClient(
        issuer=gateway.oidc_issuer, jwks_url=gateway.oidc_jwks_url,
        client_id=settings.oidc_client_id,
        client_secret=secret.get_secret_value() if secret else None,
        scope=settings.oidc_scope, claim_names=claim_names_from(gateway),
    )  # fmt: skip


def _shared_failures(services: Services) -> SharedFailures | None:
    """Where every process counts sign-in failures of unknown names: the limits store
    when it is shared (Redis), else none (``UnknownNames`` counts in memory)."""
    limiter = services.limiter
    return limiter if isinstance(limiter, SharedFailures) and limiter.shared else None


def mount_console(
    app: FastAPI,
    services: Services,
    directory: IdentityDirectory,
    settings: ConsoleSettings | None = None,
) -> Console:
    settings = settings or ConsoleSettings()
    signer = Signer(console_key(services.settings.home))
    trail = PasswordTrail(services.audit)
    console = Console(
        settings=settings,
        services=services,
        directory=directory,
        sessions=SessionStore(
            engine=services.engine,
            signer=signer,
            idle_timeout_s=settings.idle_timeout_s,
            max_age_s=settings.max_session_s,
            ended_before=trail.reset_at,
        ),
        accounts=LocalAccounts(
            engine=services.engine,
            key=console_key(services.settings.home),
            max_failures=settings.max_failures,
            lockout_s=settings.lockout_s,
            trail=trail,
        ),
        signer=signer,
        templates=build_environment(),
        assets=assets.default_assets_dir(settings.assets_dir),
        attempts=AttemptWindow(settings.sign_in_attempts_per_minute),
        unknown_names=UnknownNames(
            settings.max_failures, settings.lockout_s, shared=_shared_failures(services)
        ),
        oidc=build_oidc(services, settings),
    )
    app.state.console = console
    app.mount("/console/static", StaticFiles(directory=assets.STATIC), name="console_static")
    app.include_router(assets.router)
    app.include_router(auth_pages.router)
    for page in PAGES:
        app.include_router(page.router)

    @app.get("/", include_in_schema=False)
    def root() -> RedirectResponse:
        return RedirectResponse("/console", status_code=303)

    return console
