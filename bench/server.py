"""The bench's gateway process: the real app, production settings, PostgreSQL catalog,
audit and sources, plus one bench-only ungoverned route (the product never has one).

``python -m bench.server --home DIR --port N`` builds everything, writes
``DIR/tokens.json`` (alice, arthur, dora) and serves with uvicorn until killed.
``--embedded``: the embedded default instead — catalog and audit in ``DIR/sluice.db``
(SQLite), the demo departments' SQLite files as sources (``bench.embedded``), the
ungoverned route reading ``civil.db`` with the same SELECT.

What differs from a production deployment, and why (also in ``bench/README.md``):
- the loopback PostgreSQL is allow-listed, every entry is served by one source, and the
  per-user share of source connections is raised to 64 (one user drives every load
  level; the per-source bound stays at the pool's 20);
- the per-user request rate and daily row quota are raised (``600/minute`` would cut a
  throughput run after a fraction of a second; the checks themselves still run);
- the administrator's L2 row cap is raised to 1,000,000 (``SLUICE_MAX_ROWS_BY_LEVEL``,
  a production setting), so one request may stream the 1,000,000-row result;
- a bench-only dataset ``civil.dibao_big`` (1,000,000 rows, level L2, five L2 fields
  with PI categories, so an L2 analyst sees them masked);
- ``POST /bench/ungoverned``: the small query's SELECT run with no token, policy,
  masking or audit; ``GET /bench/counters``: how many policy evaluations ran.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import signal
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson
import uvicorn
from fastapi import FastAPI
from fastapi.responses import Response
from sqlalchemy import create_engine

from bench import data
from bench.sampler import Sampler
from catalog.demo.install import _sync_dataset, install_demo_catalog
from catalog.models import Dataset, Source, User
from catalog.schemas import DatasetIn, FieldIn
from gateway.auth.claims import claim_names_from
from gateway.auth.issuer import EMBEDDED_ISSUER, mint_token
from gateway.auth.keys import load_or_create_signing_key
from gateway.core.services import Services
from gateway.core.settings import Settings, load_settings
from gateway.web.app import create_app
from gateway.web.http_protocol import Utf8RequestLineProtocol
from gateway.wiring.alert_process import AlertProcess, stop_with_parent
from gateway.wiring.alerts import run_alerts
from gateway.wiring.container import build_services
from gateway.wiring.demo import assign_demo_roles
from policies.pdp_builder import build_pdp

SMALL_FIELDS = ["id_number", "name", "phone", "region_code", "monthly_amount"]
# The statement the SQL adapter compiles for alice's small query (same projection,
# row filter, LIMIT 20 + 1), run here with no governance at all.
UNGOVERNED_SQL = (
    'SELECT "id_number", "name", "phone", "region_code", "monthly_amount" '
    "FROM \"dibao_recipients\" WHERE \"region_code\" LIKE %s || '%%' ESCAPE '/' LIMIT %s"
)
BIG_DATASET = "civil.dibao_big"
BIG_MASKED = ["id_number", "name", "phone", "address", "start_date"]


def bench_settings(home: Path, catalog_db: str = data.CATALOG_DB) -> Settings:
    return load_settings(
        home=home,
        database_url=data.sa_url(catalog_db),
        env="production",
        master_key=secrets.token_urlsafe(32),
        log_level="WARNING",
        rate_limit="100000000/minute",
        daily_row_quota=10**12,
        source_max_rows=2_000_000,
        max_rows_by_level={"L2": 10 * data.BIG_ROWS},
        # the bench's PostgreSQL is on loopback, which the network guard refuses unless
        # an admin allows it (issue 11, class 3)
        source_allow_hosts=["127.0.0.1"],
        # one bench user drives every load level: a per-user share of 4 streams would
        # answer 429 at c=8; the source's own bound stays at the SQL pool's size
        source_max_connections_per_user=64,
        source_max_connections=20,
        alert_runner="external",  # as `sluice serve` runs it: rules in a process of their own
    )


class CountingPDP:
    """Counts decisions asked of the cache and evaluations that reached the engine."""

    def __init__(self, cached: Any) -> None:
        self.cached = cached
        self.inner = cached.inner
        self.decisions = 0
        self.evaluations = 0
        inner_decide = self.inner.decide

        def counted(decision_input: Any) -> Any:
            self.evaluations += 1
            return inner_decide(decision_input)

        self.inner.decide = counted

    @property
    def policy_version(self) -> str:
        return str(self.cached.policy_version)

    def decide(self, decision_input: Any) -> Any:
        self.decisions += 1
        return self.cached.decide(decision_input)


def big_entry() -> DatasetIn:
    cats = {"id_number": "id_number", "name": "name", "phone": "phone",
            "address": "address", "start_date": "birth_date"}  # fmt: skip
    types = {"household_size": "int64", "monthly_amount": "float64", "start_date": "date"}
    names = ["id_number", "name", "phone", "address", "household_size", "monthly_amount",
             "start_date", "status", "region_code"]  # fmt: skip
    fields = [
        FieldIn(
            name=n,
            type=types.get(n, "string"),
            level="L1" if n == "region_code" else "L2",
            pi_category=cats.get(n, "none"),
        )  # type: ignore[arg-type]
        for n in names
    ]
    return DatasetIn(
        id=BIG_DATASET,
        department="civil",
        source_id="civil-db",
        object_name=data.BIG_TABLE,
        level="L2",
        allowed_purposes=["supervision"],
        region_field="region_code",  # type: ignore[arg-type]
        fields=fields,
        title_zh="低保对象名册(基准)",
        title_en="Dibao (bench, 1M rows)",
        description_zh="基准测试专用",
        description_en="bench only",
        tags=["bench"],
        update_frequency="monthly",
    )


def build(home: Path, *, embedded: bool = False,
          catalog_db: str = data.CATALOG_DB) -> tuple[FastAPI, Services]:  # fmt: skip
    if embedded:
        return _build_embedded(home)
    settings = bench_settings(home, catalog_db)
    services = build_services(settings)
    services.pdp = CountingPDP(build_pdp(opa_url=None))
    demo_url = data.sa_url(data.DEMO_DB)
    with services.sessions() as session:
        install_demo_catalog(session=session, data_dir=settings.demo_data_dir.resolve())
        session.flush()
        _sync_dataset(session, big_entry())
        # one source serves every entry: three departments' sources naming one database
        # would be one system registered thrice, refused on connect (issue 11, class 2)
        shared = session.query(Source).order_by(Source.id).first()
        assert shared is not None
        shared.kind = "postgresql"
        shared.settings = {"url": demo_url}
        for dataset in session.query(Dataset).all():
            dataset.source_id = shared.id
        session.commit()
    assign_demo_roles(services)
    app = create_app(settings, services)
    engine = create_engine(demo_url, pool_size=40, max_overflow=0)
    mount_bench_routes(app, services, lambda: engine.raw_connection(), UNGOVERNED_SQL)
    write_tokens(services, settings)
    return app, services


def _build_embedded(home: Path) -> tuple[FastAPI, Services]:
    from bench import embedded

    settings = embedded.bench_settings(home)
    services = build_services(settings)
    services.pdp = CountingPDP(build_pdp(opa_url=None))
    embedded.install(services)
    app = create_app(settings, services)
    conns = embedded.ThreadConnections(embedded.civil_db(settings))
    mount_bench_routes(app, services, conns.connect, embedded.UNGOVERNED_SQL)
    write_tokens(services, settings)
    return app, services


def mount_bench_routes(
    app: FastAPI, services: Services, connect: Callable[[], Any], sql: str
) -> None:
    """``sql`` in the driver's own placeholder style; ``connect`` a DB-API connection
    whose ``close`` hands it back to its pool (or really closes it)."""
    lock = threading.Lock()
    broker = app.state.broker

    @app.post("/bench/ungoverned", include_in_schema=False)
    def ungoverned(body: dict[str, Any]) -> Response:  # sync, like the governed route
        prefix = str(body.get("prefix", "430121"))
        limit = int(body.get("limit", 20))
        raw = connect()
        try:
            cur = raw.cursor()
            cur.execute(sql, (prefix, limit + 1))
            names = [d[0] for d in cur.description]
            rows = [dict(zip(names, r, strict=True)) for r in cur.fetchmany(limit)]
            cur.close()
            raw.commit()
        finally:
            raw.close()
        return Response(orjson.dumps({"rows": rows}), media_type="application/json")

    @app.get("/bench/counters", include_in_schema=False)
    def counters() -> dict[str, Any]:
        pdp = services.pdp
        with lock:
            return {
                "decisions": pdp.decisions,
                "evaluations": pdp.evaluations,
                "cache_hits": pdp.cached.hits,
                "cache_misses": pdp.cached.misses,
                "audit_appended": services.audit.metrics.appended,
                "audit_batches": services.audit.metrics.batches,
                "queries": broker.metrics.queries,
                "audit_s": broker.metrics.audit_s,
                "mask_s": broker.metrics.mask_s,
            }


def write_tokens(services: Services, settings: Settings) -> None:
    key = load_or_create_signing_key(settings.home)
    tokens = {}
    with services.sessions() as session:
        for subject in ("alice", "arthur", "dora"):
            user = session.get(User, subject)
            assert user is not None
            tokens[subject] = mint_token(
                user=user, key=key, issuer=EMBEDDED_ISSUER, audience=settings.oidc_audience,
                ttl=4 * 3600, claim_names=claim_names_from(settings),
            )  # fmt: skip
    (settings.home / "tokens.json").write_text(json.dumps(tokens))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--home", type=Path, required=True)
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--embedded", action="store_true", help="SQLite catalog and sources")
    parser.add_argument("--catalog-db", default=data.CATALOG_DB)
    parser.add_argument("--alerts-child", type=int, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.alerts_child is not None:  # the parent's pid
        return alerts_child(args.home, embedded=args.embedded, catalog_db=args.catalog_db,
                            parent=args.alerts_child)  # fmt: skip
    app, services = build(args.home, embedded=args.embedded, catalog_db=args.catalog_db)
    child = AlertProcess([sys.executable, "-m", "bench.server", "--alerts-child",
                          str(os.getpid()), "--home", str(args.home),
                          "--catalog-db", args.catalog_db,
                          *(["--embedded"] if args.embedded else [])]).start()  # fmt: skip
    sample_to = os.environ.get("SLUICE_BENCH_SAMPLE")
    # bench.threads: a relative path is in the gateway's home
    sampler = Sampler(args.home / sample_to).start() if sample_to else None
    try:
        uvicorn.run(app, host="127.0.0.1", port=args.port, log_level="warning",
                    access_log=False, http=Utf8RequestLineProtocol)  # fmt: skip
    finally:
        if sampler is not None:
            sampler.stop()
        child.stop()
        services.close()


def alerts_child(home: Path, *, embedded: bool, catalog_db: str, parent: int) -> None:
    """The bench gateway's alert rules, in their own process as ``sluice serve`` runs
    them (``sluice alerts run``), with the bench's settings."""
    from bench import embedded as embedded_bench

    settings = (embedded_bench.bench_settings(home) if embedded
                else bench_settings(home, catalog_db))  # fmt: skip
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda _s, _f: stop.set())
    stop_with_parent(stop, parent)
    run_alerts(settings, stop)


if __name__ == "__main__":
    main()
