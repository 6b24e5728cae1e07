"""A real gateway over the demo departments, for end-to-end tests.

The catalog and audit trail live in SQLite under a temporary home; the demo data is
generated (small sizes) into the departments' SQLite files and, for the backends
that ask for it, into a fresh PostgreSQL or MariaDB database, with the demo
sources re-pointed there. Tokens come from the embedded issuer, as in ``sluice token``.
"""

from __future__ import annotations

import atexit
import copy
import inspect
import json
import shutil
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from anyio.from_thread import start_blocking_portal
from fastapi.testclient import TestClient
from sqlalchemy import text
from sqlalchemy.engine import make_url

from audit.search import EventFilter, list_events
from catalog.access_requests import AccessRequest
from catalog.demo.generator import GenerationReport, Sizes, generate
from catalog.demo.targets import SqliteTarget, open_target
from catalog.models import Dataset, Source, User
from catalog.private_files import private_dir
from gateway.auth.claims import claim_names_from
from gateway.auth.issuer import EMBEDDED_ISSUER, mint_token
from gateway.auth.keys import load_or_create_signing_key
from gateway.core.services import Services
from gateway.core.settings import Settings, load_settings
from gateway.stewardship.row_trail import bind_changed
from gateway.web.app import create_app
from gateway.wiring.container import build_services
from gateway.wiring.demo import demo_data_present, setup_demo
from tests.migrated import copy_migrated_sqlite, sqlite_path

SMALL = Sizes(
    payroll=1500,
    fund_disbursements=300,
    dibao_recipients=3000,
    death_registrations=400,
    audit_findings=100,
)
PG_DEMO = "postgresql+psycopg://postgres@127.0.0.1:5432/{name}"
MYSQL_DEMO = "mysql+pymysql://root@127.0.0.1:3306/{name}?charset=utf8mb4"


ADMIN_USERS = "/api/v1/admin/users"


@dataclass
class DemoGateway:
    client: TestClient
    services: Services
    settings: Settings
    report: GenerationReport | None

    def token(self, subject: str, ttl: int = 600) -> str:
        with self.services.sessions() as session:
            user = session.get(User, subject)
            assert user is not None, subject
            return mint_token(
                user=user,
                key=load_or_create_signing_key(self.settings.home),
                issuer=EMBEDDED_ISSUER,
                audience=self.settings.oidc_audience,
                ttl=ttl,
                claim_names=claim_names_from(self.settings),
            )

    def headers(self, subject: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token(subject)}"}

    def query(self, subject: str, dataset: str, body: dict[str, Any], **params: Any) -> Any:
        return self.client.post(
            f"/api/v1/datasets/{dataset}/query",
            json=body,
            headers=self.headers(subject),
            params=params,
        )

    def compare(self, subject: str, body: Any, **params: Any) -> Any:
        """``POST /api/v1/comparisons`` with the body as raw JSON text (so that even lone
        surrogates travel, as ``\\ud800`` escapes)."""
        headers = {**self.headers(subject), "content-type": "application/json"}
        return self.client.post(
            "/api/v1/comparisons", content=json.dumps(body), headers=headers, params=params
        )

    def sql(self, statement: str, **params: Any) -> None:
        """An edit made behind the application's back, as an operator with psql would."""
        with self.services.engine.begin() as conn:
            conn.execute(text(statement), params)

    def edit_user(self, subject: str, **values: Any) -> None:
        """A user's row changed as ``sluice users`` on a gateway host would (through the
        ORM, so the row is sealed: ``catalog.row_seals``, and its new state bound on the
        trail: ``catalog.row_bindings``), with no other event on the trail."""
        self._edit_row(User, subject, values)

    def edit_entry(self, dataset_id: str, field: str | None = None, **values: Any) -> None:
        """An entry's row (or one field's, by name) changed through the ORM, as a
        steward's save or another gateway process would write it: sealed
        (``catalog.entry_seals``) and its new state bound on the trail
        (``catalog.row_bindings``), unlike a hand-made SQL edit, which the broker refuses."""

        def part(dataset: Any) -> Any:
            return dataset if field is None else next(f for f in dataset.fields if f.name == field)

        self._edit_row(Dataset, dataset_id, values, part)

    def edit_source(self, source_id: str, **values: Any) -> None:
        """A source's row changed through the ORM, as a steward's save or an operator's
        tool on a gateway host would write it: sealed (``catalog.source_seals``), unlike a
        hand-made SQL edit, which every read and connect refuses; its new state bound on
        the trail (``catalog.row_bindings``), as ``edit_entry``."""
        self._edit_row(Source, source_id, values)

    def _edit_row(
        self, model: type[Any], key: str, values: dict[str, Any],
        part: Callable[[Any], Any] = lambda row: row,
    ) -> None:  # fmt: skip
        """``values`` set on the row of ``model`` at ``key`` (or the ``part`` of it
        named) through the ORM, its new state bound on the trail, committed."""
        with self.services.sessions() as session:
            row = session.get(model, key)
            assert row is not None, key
            target = part(row)
            for name, value in values.items():
                setattr(target, name, value)
            bind_changed(self.services.audit, session)
            session.commit()

    def listed_user(self, subject: str) -> dict[str, Any]:
        """``subject`` as root's ``GET /api/v1/admin/users`` lists them."""
        users = self.client.get(ADMIN_USERS, headers=self.headers("root")).json()
        return dict(next(u for u in users if u["subject"] == subject))

    def restore_user(self, listed: dict[str, Any]) -> None:
        """An admin's restoring save through the gateway of a user as ``listed_user``
        gave them (active): the row is sealed again, as after an insider's edit."""
        body = {k: listed[k] for k in ("display_name", "department", "clearance", "jurisdiction")}
        resp = self.client.put(f"{ADMIN_USERS}/{listed['subject']}", headers=self.headers("root"),
                               json={**body, "status": "active"})  # fmt: skip
        assert resp.status_code == 200, resp.text

    def write_grant(self, grant_id: str, **values: Any) -> None:
        """An access request written (or changed) as a gateway writes one: through the
        ORM, so the row is sealed (``catalog.grant_seals``) and a change of it bound on
        the trail (``catalog.row_bindings``), with no other event on the trail. What
        ``sql`` writes to ``access_requests`` grants nothing."""
        with self.services.sessions() as session:
            req = session.get(AccessRequest, grant_id) or AccessRequest(id=grant_id)
            for name, value in values.items():
                setattr(req, name, value)
            session.add(req)
            bind_changed(self.services.audit, session)
            session.commit()

    def request_events(self, request_id: str, want: int) -> list[dict[str, Any]]:
        """A request's audit events, oldest first (a comparison's sides carry
        ``<id>.left`` / ``<id>.right``); completions are queued behind the response, so
        poll briefly until ``want`` are there."""
        events: list[dict[str, Any]] = []
        for _ in range(100):
            page = list_events(store=self.services.audit.store, filters=EventFilter(),
                               limit=300, order="desc")  # fmt: skip
            events = [e for e in reversed(page["items"])
                      if (e.get("request_id") or "").split(".")[0] == request_id]  # fmt: skip
            if len(events) >= want:
                break
            time.sleep(0.05)
        return events

    def last_request_id(self, family: str | None = None) -> str:
        """The request id of the newest audit event (a comparison's, not its side's), of
        ``family`` (say ``"query.*"``) when given: on a deployment whose scheduler ticks,
        a scheduled run's event can be newer than the request a test just made."""
        page = list_events(store=self.services.audit.store, filters=EventFilter(type=family),
                           limit=1, order="desc")  # fmt: skip
        return str(page["items"][0]["request_id"]).split(".")[0]

    def point_sources_at(self, kind: str, url: str) -> None:
        """Serve every demo entry from one database holding all five tables, and
        allow-list its host (``SLUICE_SOURCE_ALLOW_HOSTS``) as an admin would: the test
        servers are on loopback, which the network guard refuses otherwise.

        One source (the first) is re-pointed and every entry moved onto it: three
        departments' sources naming one database would be one system registered by three
        departments, which the connect-time ownership check refuses (issue 11, class 2).
        """
        host = make_url(url).host
        if host and host not in self.settings.source_allow_hosts:
            self.settings.source_allow_hosts.append(host)
        with self.services.sessions() as session:
            shared = session.query(Source).order_by(Source.id).first()
            assert shared is not None
            shared.kind = kind
            shared.settings = {"url": url}
            for dataset in session.query(Dataset).all():
                dataset.source_id = shared.id
            session.commit()


# The demo departments' SQLite files, generated once per test process for each size
# (the generator is seeded: the same seed and sizes give the same rows and report).
_DEMO_SEED: int = inspect.signature(setup_demo).parameters["seed"].default
_generated: dict[Sizes, tuple[Path, GenerationReport]] = {}
_generated_lock = threading.Lock()


def _copy_generated_demo_data(data_dir: Path, sizes: Sizes) -> GenerationReport:
    """Put the demo departments' files into ``data_dir`` (which has none yet) as
    ``setup_demo`` would generate them, copied from this process's first generation of
    them; returns that generation's report. Generating took about half of a demo
    gateway's set-up, and the suite builds a few hundred."""
    with _generated_lock:
        if sizes not in _generated:
            folder = Path(tempfile.mkdtemp(prefix="sluice-demo-data-"))
            atexit.register(shutil.rmtree, folder, True)
            report = generate(seed=_DEMO_SEED, sizes=sizes, targets=[SqliteTarget(folder)])
            _generated[sizes] = (folder, report)
        folder, report = _generated[sizes]
    target = SqliteTarget(data_dir)  # makes the directory as generating there would
    for file in sorted(folder.iterdir()):
        shutil.copyfile(file, data_dir / file.name)
    report = copy.deepcopy(report)
    report.targets = [target.label]
    return report


@contextmanager
def demo_gateway(
    home: Path, *, backend_url: str | None = None, sizes: Sizes = SMALL, **overrides: Any
) -> Iterator[DemoGateway]:
    settings = load_settings(home=home, **overrides)
    catalog_file = sqlite_path(settings.resolved_database_url)
    if catalog_file is not None and not catalog_file.exists():
        private_dir(settings.home)  # as build_services makes it
        copy_migrated_sqlite(catalog_file)  # build_services' migrate is then a no-op
    services = build_services(settings)
    extra = [open_target(backend_url)] if backend_url else []
    report = None
    data_dir = settings.demo_data_dir.resolve()
    if not backend_url and not demo_data_present(data_dir):
        # what setup_demo would generate, copied; it then finds the files and installs
        # the catalog and roles over them as ever (a backend is still generated into)
        report = _copy_generated_demo_data(data_dir, sizes)
    result = setup_demo(services, sizes=sizes, extra_targets=extra)
    gw = DemoGateway(
        client=TestClient(create_app(settings, services)),
        services=services,
        settings=settings,
        report=result.generated or report,
    )
    if backend_url:
        kind = "postgresql" if backend_url.startswith("postgresql") else "mysql"
        gw.point_sources_at(kind, backend_url)
    try:
        with one_event_loop(gw.client):
            yield gw
    finally:
        services.close()


@contextmanager
def one_event_loop(client: TestClient) -> Iterator[None]:
    """Every request of ``client`` on one event loop thread, kept until exit. Outside
    its ``with`` block, a ``TestClient`` starts a thread and an event loop for each
    request and ends them after: about 1 ms of CPU a request, and the suite makes tens
    of thousands (stop 38's profile). The app's lifespan is not run (as before: the
    tests that need it enter the client themselves, which then uses a loop of its own);
    requests from several threads share the loop as they would a server's."""
    with start_blocking_portal(**client.async_backend) as portal:
        client.portal = portal
        try:
            yield
        finally:
            client.portal = None
