"""``create_app``: builds the FastAPI application; no work happens at import time."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import Depends, FastAPI
from fastapi_offline import FastAPIOffline

from gateway.core.heap import settle_heap
from gateway.core.logs import configure_logging
from gateway.core.services import Services
from gateway.core.settings import Settings, load_settings
from gateway.enforcement.comparison.runs import ModelRunner
from gateway.enforcement.comparison.service import Comparer
from gateway.enforcement.query.broker import Broker
from gateway.stewardship.grants.trail_facts import ApprovalFacts, warm_in_background
from gateway.stewardship.users.chosen_passwords import PasswordSetters
from gateway.stewardship.users.directory import IdentityDirectory
from gateway.web import metrics as metrics_routes
from gateway.web.access_log import AccessLog
from gateway.web.allowed_hosts import HostAllowList
from gateway.web.body_limit import BodyLimit
from gateway.web.console import mount_console
from gateway.web.console.openapi_security import install_bearer_scheme
from gateway.web.console.password_events import PasswordEvents
from gateway.web.console.security import SecurityHeaders
from gateway.web.errors import install_error_handlers
from gateway.web.metrics import build_registry
from gateway.web.openapi_contract import install_contract
from gateway.web.routes import (
    access_requests,
    audit,
    auth,
    catalog,
    comparison_models,
    comparison_runs,
    comparison_schedules,
    comparisons,
    datasets,
    departments,
    emergency,
    sources,
    users,
    witness,
)
from gateway.web.slash_redirect import relative_slash_redirects
from gateway.web.text_guard import APP_GUARDS
from gateway.wiring.container import build_services
from gateway.wiring.schedule_clock import ScheduleClock


def create_app(settings: Settings | None = None, services: Services | None = None) -> FastAPI:
    settings = settings or (services.settings if services else load_settings())
    configure_logging(env=settings.env, level=settings.log_level)
    owns_services = services is None
    services = services or build_services(settings)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        settle_heap()  # start-up's objects out of the collector's way (gateway.core.heap)
        if services.settings.warm_approval_index:  # in each worker: the index is per process
            warm_in_background(services.audit, (ApprovalFacts, PasswordEvents, PasswordSetters))
        yield
        # runs stop, queries still streaming are recorded as aborted, the pools close
        _app.state.comparison_runs.close()
        _app.state.broker.close()
        if owns_services:
            # flush the audit writer and sign a final checkpoint (truncation detection);
            # services passed in are closed by whoever built them
            services.close()

    # /docs and /redoc with their assets served from this process (fastapi-offline): the
    # default pages load Swagger UI from a CDN and are blank on an offline network
    app = FastAPIOffline(
        lifespan=lifespan,
        title="Sluice",
        version="0.1.0",
        description="Secure data-sharing gateway and governed data catalog.",
        dependencies=[Depends(guard) for guard in APP_GUARDS],  # NUL / lone surrogates: 400
    )
    app.state.services = services
    app.state.metrics_registry, app.state.http_metrics = build_registry(services)
    app.state.identities = IdentityDirectory(engine=services.engine,
                                             authorizer=services.authorizer)  # fmt: skip
    services.on_close.append(app.state.identities.close)  # its generation reads' connections
    app.state.broker = Broker.from_services(services)
    app.state.comparer = Comparer.from_services(app.state.broker, services)
    app.state.comparison_runs = ModelRunner(broker=app.state.broker, services=services,
                                            identities=app.state.identities)  # fmt: skip
    if services.settings.comparison_scheduler:  # off unless asked (issue 15)
        every = services.settings.comparison_scheduler_interval_s
        ScheduleClock(services=services, runner=app.state.comparison_runs,
                      interval_s=every).start()  # fmt: skip
    install_error_handlers(app)
    relative_slash_redirects(app.router)  # a path, never the Host's scheme, name or port
    app.add_middleware(BodyLimit)
    # a Host naming no address of the gateway (DNS rebinding): 400 before any route
    app.add_middleware(HostAllowList, settings=services.settings)
    app.add_middleware(SecurityHeaders)  # CSP on the console, frame/referrer headers everywhere
    app.add_middleware(AccessLog)  # outermost: one line per request, refusals included

    @app.get("/healthz", tags=["meta"])
    def healthz() -> dict[str, Any]:
        # a sealed audit trail (chain disagrees with its witnesses) stops data endpoints
        sealed = services.audit.seal.sealed
        return {"status": "sealed" if sealed else "ok", "sealed": sealed}

    # the governed query first: routes are matched in order, and it is the hot one (each
    # route passed over is a regex match: ~30 us a request behind auth, catalog, sources)
    for module in (datasets, auth, catalog, sources, comparisons, comparison_models,
                   comparison_runs, comparison_schedules, access_requests, audit, users,
                   witness, emergency):  # fmt: skip
        app.include_router(module.router)
    app.include_router(departments.router)  # DCAT publishers (issue 16)
    app.include_router(metrics_routes.router)
    mount_console(app, services, app.state.identities)  # /console (issue 14)
    install_bearer_scheme(app)  # /docs: "Authorize" takes a bearer token
    install_contract(app)  # every operation's errors and the query's formats (issue 16)
    return app
