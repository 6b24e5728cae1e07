"""Shared fixtures: real databases (fresh per test module or session), a Sluice home.

PostgreSQL and MariaDB are the machine's own (``make test`` starts them if they are
down); a test that cannot reach them fails, it never skips.
"""

from __future__ import annotations

import gc
import os
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pymysql
import pytest
from hypothesis import HealthCheck, settings

from tests.pg_spares import Spares, later
from tests.root_only import require_root
from tests.scheduling import arrange

# This machine's environment sets PYTHONDONTWRITEBYTECODE=1 and the checkout holds no
# __pycache__, so each xdist worker compiled (and assertion-rewrote) every test module to
# collect them, and each `sluice` process a test starts compiled the whole product again.
# The suite keeps the byte-code cache (__pycache__ is git-ignored) for itself and for
# the processes it starts (xdist's workers start after this file is read).
sys.dont_write_bytecode = False
os.environ.pop("PYTHONDONTWRITEBYTECODE", None)

# Console passwords are hashed with argon2id at its lowest cost in the suite and the
# processes it starts (the default cost took ~0.3 s a hash or check on these two cores,
# hundreds of times a run); what is under test is the argon2id check, not its cost.
# tests/gateway/web/console/test_password_cost.py checks the production default.
os.environ.setdefault("SLUICE_CONSOLE_ARGON2_TIME_COST", "1")
os.environ.setdefault("SLUICE_CONSOLE_ARGON2_MEMORY_KIB", "1024")

# The in-process test clients name the gateway "testserver" (Starlette's TestClient, and
# the httpx ASGI clients told so): no address, so the gateway's Host allow-list
# (gateway.web.allowed_hosts) refuses it unless told. The suite tells it here, once; a
# deployment never allows it unless SLUICE_ALLOWED_HOSTS says so
# (tests/attacks/test_peer_rebound_host_allow_list.py checks the default without it).
os.environ.setdefault("SLUICE_ALLOWED_HOSTS", "testserver")

# The audit store's confirmation bound (a query waits for its start record's durable
# commit, else 503) is 2 s in production. The suite runs four workers, Chromium, Spark
# and three database servers on two cores: near the end of a clean clone's run a MariaDB
# source's query once waited 3.0 s for its SQLite commit (an fsync stall under the
# load), and a correct gateway answered 503. The suite's gateways wait 10 s; the tests
# of the bound itself set their own (tests/gateway/enforcement/query/
# test_query_fail_closed.py, tests/audit/test_faults.py), and
# tests/gateway/core/test_settings_defaults.py checks the production default without it.
os.environ.setdefault("SLUICE_AUDIT_APPEND_TIMEOUT_S", "10")

# Spark's local-mode JVM (the Spark tests' one session per worker, tests/gateway/
# enforcement/comparison/test_spark_*.py and the Spark attacks) runs with the client
# compiler only and the serial collector: the suite's runs are short and many, so its
# JVM spent most of its CPU compiling hot paths with C2 (and in G1's threads) for runs
# that end before the compiled code pays back. Same Spark, same plans, same results; half
# the JVM's CPU on the two shared cores (8 demo-model runs: 42.8 s -> 22.1 s of JVM CPU,
# wall the same). JDK_JAVA_OPTIONS is read by the `java` launcher that spark-submit
# starts (and no other process the suite starts runs one); a value set outside is kept.
os.environ.setdefault("JDK_JAVA_OPTIONS", "-XX:TieredStopAtLevel=1 -XX:+UseSerialGC")

# Two shared cores run the suite with two workers beside real databases: how fast
# hypothesis *generates* inputs is not under test, and a loaded moment made the
# too_slow health check fail a property that held (tests/audit/test_chain_index.py).
settings.register_profile("sluice", suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("sluice")


@pytest.fixture
def as_root() -> None:
    """For ``tests.root_only.root_only``: root, or the test fails (never skips)."""
    require_root()


@pytest.hookimpl(tryfirst=True)  # before xdist names each test's group in its node id
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Under ``--dist loadgroup``, one work unit per module, longest units first
    (tests/scheduling.py says why)."""
    if config.getoption("loadgroup", False):  # set by xdist, on its workers too
        arrange(items)


def pytest_collection_finish(session: pytest.Session) -> None:
    """The collected modules and what they imported out of the collector's sight, and
    its young generation collected as a serving process's is (``gateway.core.heap``,
    whose ``settle_heap`` runs only in an app's lifespan, which most tests' clients do
    not enter): the suite's processes spent about a tenth of their CPU in the collector,
    most of it traversing those same long-lived objects again at each full collection."""
    from gateway.core.heap import THRESHOLDS

    gc.collect()
    gc.freeze()
    gc.set_threshold(*THRESHOLDS)


@pytest.fixture(scope="module", autouse=True)
def _fastapi_lets_go_of_the_modules_apps() -> Iterator[None]:
    """After each module, FastAPI forgets the endpoints it classified, so the module's
    gateways can be collected.

    FastAPI memoises whether each endpoint and dependency is a coroutine or a generator
    in ``lru_cache``s of 4,096 entries each (``fastapi.dependencies.models``), keyed by
    the callable itself; ``fastapi_offline``'s docs pages are closures over their app, so
    every app a worker built stayed reachable with its services — engines, caches, the
    audit log, hundreds of gateways per worker — and each full collection of the
    collector traversed them all: 8-13% of a worker's CPU went to the collector on a
    40-module run (a ``gc.callbacks`` meter), more as the run went on. One process
    serving one app (production) has nothing to forget; the caches only memoise, so
    clearing them changes no answer."""
    yield
    from fastapi.dependencies import models

    for name in ("_is_gen_callable_cached", "_is_async_gen_callable_cached",
                 "_is_coroutine_callable_cached"):  # fmt: skip
        cached = getattr(models, name, None)
        if cached is not None:  # a FastAPI without these caches keeps nothing to clear
            cached.cache_clear()
    # what is still reachable now (modules, their caches, session fixtures) lives as long
    # as the worker: out of the collector's sight, as gateway.core.heap does for a
    # serving process, so the later modules' collections traverse only their own objects
    gc.collect()
    gc.freeze()


@pytest.hookimpl(trylast=True)
def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Collect once, then freeze the heap: pytest's unraisable-exception check then runs
    five full collections as the process ends (``gc_collect_harder``), each traversing
    every object a worker's few hundred gateways left behind — 6 to 13 s of CPU per
    worker at the very end of the run, the last worker's on the run's critical path
    (``py-spy record --gil``, stop 38). What this one collection finds still reaches the
    hook (an object whose finaliser raises is reported as before); what is left alive
    now lives as long as the process."""
    gc.collect()
    gc.freeze()


PG_ADMIN = os.environ.get("SLUICE_TEST_PG", "postgresql://postgres@127.0.0.1:5432/postgres")
MYSQL_HOST = os.environ.get("SLUICE_TEST_MYSQL_HOST", "127.0.0.1")


def _pg_url(dbname: str, driver: str = "psycopg") -> str:
    base = PG_ADMIN.rsplit("/", 1)[0].replace("postgresql://", f"postgresql+{driver}://")
    return f"{base}/{dbname}"


def _create_empty_pg_database(name: str) -> None:
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')


_empty_spares = Spares(PG_ADMIN, _create_empty_pg_database)


def create_pg_database(prefix: str = "sluice_t") -> tuple[str, str]:
    """Create a fresh PostgreSQL database; returns (name, SQLAlchemy URL). Made ahead
    while the previous test ran (tests/pg_spares.py)."""
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    _empty_spares.take(name)
    return name, _pg_url(name)


def drop_pg_database(name: str) -> None:
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def drop_pg_database_later(name: str) -> None:
    """``drop_pg_database`` in the background, for a fixture's teardown: the test
    process does not wait for the server (tests/pg_spares.py). A test that drops a
    database to see what happens then calls ``drop_pg_database``."""
    later(drop_pg_database, name)


def create_mysql_database(prefix: str = "sluice_t") -> tuple[str, str]:
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    conn = pymysql.connect(host=MYSQL_HOST, user="root", password="")
    try:
        with conn.cursor() as cur:
            cur.execute(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4")
    finally:
        conn.close()
    return name, f"mysql+pymysql://root@{MYSQL_HOST}:3306/{name}?charset=utf8mb4"


def drop_mysql_database(name: str) -> None:
    conn = pymysql.connect(host=MYSQL_HOST, user="root", password="")
    try:
        with conn.cursor() as cur:
            cur.execute(f"DROP DATABASE IF EXISTS `{name}`")
    finally:
        conn.close()


@pytest.fixture
def pg_url() -> Iterator[str]:
    """A fresh, empty PostgreSQL database for one test."""
    name, url = create_pg_database()
    try:
        yield url
    finally:
        drop_pg_database_later(name)


@pytest.fixture
def mysql_url() -> Iterator[str]:
    """A fresh, empty MariaDB database for one test."""
    name, url = create_mysql_database()
    try:
        yield url
    finally:
        drop_mysql_database(name)


@pytest.fixture
def sluice_home(tmp_path: Path) -> Path:
    home = tmp_path / "sluice-home"
    home.mkdir()
    return home
