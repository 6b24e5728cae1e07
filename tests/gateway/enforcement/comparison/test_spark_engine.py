"""The Spark engine (issue 15) on a real Spark in local mode (``local[2]``, one session
for the module): every shipped model's hit list is identical on the embedded engine
and on Spark, for dora (every county) and alice (her county), with the sides read by
Spark itself from PostgreSQL (JDBC) and from the governed reader; no raw ID number in
a Spark hit list, no source password in the run's record or in our log; a run on
Spark can be cancelled; an unknown engine is still a 422."""

from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import Iterator
from typing import Any

import orjson
import psycopg
import pyarrow as pa
import pytest
from stdnum.cn import ric

from catalog.errors import TooLarge
from catalog.models import Source
from catalog.resident_ids import is_resident_id
from gateway.enforcement.comparison.engine import CancelToken, RunCancelled
from gateway.enforcement.comparison.spark import engine as spark_engine
from gateway.enforcement.comparison.spark.engine import SparkEngine
from gateway.enforcement.comparison.spark.govern import load_source
from gateway.enforcement.comparison.spark.session import spark_session
from gateway.enforcement.comparison.spark.sources import SparkSources
from gateway.enforcement.comparison.spec import ModelSpec, compile_model
from gateway.enforcement.query.entries import load_entry
from gateway.enforcement.query.subjects import MAX_TOKENS
from gateway.enforcement.sources.connect import secret_aad
from tests.attacks.redteam36 import set_own_id_number
from tests.conftest import (
    create_mysql_database,
    create_pg_database,
    drop_mysql_database,
    drop_pg_database,
)
from tests.gateway.comparison_env import (
    ALICE_COUNTY,
    DEMO_MODELS,
    PLANTED,
    events,
    hits,
    runner,
    start,
    wait,
)
from tests.gateway.demo_app import DemoGateway, demo_gateway
from tests.spark_jvm import console_mark, console_since, shared_spark

pytestmark = pytest.mark.xdist_group("spark")  # one Spark session, on one worker
ID_NUMBER = re.compile(rb"(?<![0-9a-fA-F])\d{17}[\dX](?![0-9a-fA-F])")
MASTER = "local[2]"
SECRET = "sluice-spark-secret-pw"
BACKEND: dict[str, str] = {}  # the departments' PostgreSQL database (libpq URL)


@pytest.fixture(scope="module")
def gw(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DemoGateway]:
    """The demo gateway with its departments' tables on PostgreSQL (read by JDBC)."""
    shared_spark(MASTER)  # the JVM starts once, before any run waits on it
    name, url = create_pg_database("sluice_spark")
    BACKEND["url"] = url.replace("postgresql+psycopg", "postgresql")
    try:
        with demo_gateway(tmp_path_factory.mktemp("spark"), backend_url=url, sizes=PLANTED,
                          spark_master=MASTER) as g:  # fmt: skip
            _seal_password(g)
            yield g
    finally:
        drop_pg_database(name)


def _seal_password(gw: DemoGateway) -> None:
    """Give the shared source a password, as a registered one has (PostgreSQL trusts
    loopback here, so the connection works with it; the test looks for it)."""
    with gw.services.sessions() as session:
        for source in session.query(Source).filter(Source.kind == "postgresql"):
            source.secret_ciphertext, source.secret_key_id = gw.services.keyring.encrypt(
                SECRET, aad=secret_aad(source.id), session=session)  # fmt: skip
        session.commit()


def _rows(resp: Any) -> list[dict[str, Any]]:
    assert resp.status_code == 200, resp.text
    return list(orjson.loads(resp.content)["rows"])


def _run(gw: DemoGateway, subject: str, model: str, **body: Any) -> dict[str, Any]:
    resp = start(gw, subject, model, **body)
    assert resp.status_code == 202, resp.text
    return wait(gw, subject, resp.json()["id"], timeout_s=300)  # 2 shared cores


# Spark runs of the demo gateway's models that later tests look at again (by gateway,
# subject and model): a Spark run costs seconds, and what those tests check is the
# run's own record, the same whichever test started it
_spark_runs: dict[tuple[int, str, str], dict[str, Any]] = {}


def _spark_run(gw: DemoGateway, subject: str, model: str) -> dict[str, Any]:
    """``subject``'s finished Spark run of ``model``: the one an earlier test made, else
    a new one (the test then passes alone too)."""
    key = (id(gw), subject, model)
    if key not in _spark_runs:
        _spark_runs[key] = _run(gw, subject, model, engine="spark")
    return _spark_runs[key]


def _both(gw: DemoGateway, subject: str, model: str) -> tuple[dict[str, Any], dict[str, Any]]:
    embedded = _run(gw, subject, model, engine="embedded")
    spark = _spark_run(gw, subject, model)
    assert embedded["status"] == "done", embedded
    assert spark["status"] == "done", spark
    assert spark["engine"] == "spark"
    return embedded, spark


@pytest.mark.parametrize("model", DEMO_MODELS)
def test_every_county_same_hits_on_embedded_and_spark(gw: DemoGateway, model: str) -> None:
    assert gw.report is not None
    embedded, spark = _both(gw, "dora", model)
    assert spark["hits"] == embedded["hits"] == gw.report.planted[model].total > 0
    spark_rows = _rows(hits(gw, "dora", spark["id"]))
    assert spark_rows == _rows(hits(gw, "dora", embedded["id"]))
    for fmt in ("csv", "parquet"):  # the stored table itself is the same
        assert hits(gw, "dora", spark["id"], fmt).content == hits(
            gw, "dora", embedded["id"], fmt).content  # fmt: skip
    assert not ID_NUMBER.search(hits(gw, "dora", spark["id"], "json").content)


@pytest.mark.parametrize("model", DEMO_MODELS)
def test_alice_same_hits_in_her_county_only(gw: DemoGateway, model: str) -> None:
    assert gw.report is not None
    embedded, spark = _both(gw, "alice", model)
    assert spark["hits"] == embedded["hits"] == gw.report.planted[model].by_region.get(
        ALICE_COUNTY, 0) > 0  # fmt: skip
    rows = _rows(hits(gw, "alice", spark["id"]))
    assert rows == _rows(hits(gw, "alice", embedded["id"]))
    regions = {v for row in rows for k, v in row.items() if k.endswith("region_code")}
    assert regions == {ALICE_COUNTY}


def test_a_spark_run_is_on_record_like_an_embedded_one(gw: DemoGateway) -> None:
    spark = _spark_run(gw, "dora", "demo.ghost_on_payroll")  # the run of the test above
    assert spark["status"] == "done", spark
    # requested, started, each of the three sides' completion, completed (want=8 was
    # never reached: every call polled its full five seconds)
    trail = events(gw, run_id=spark["id"], want=6)
    types = [e["type"] for e in trail]
    assert types.count("query.completed") == 3  # each side governed and on record
    started = next(e for e in trail if e["type"] == "comparison.started")
    done = next(e for e in trail if e["type"] == "comparison.completed")
    assert started["details"]["engine"] == "spark" or started.get("engine") == "spark"
    assert done["rows"] == spark["hits"] and done["details"]["subject_tokens"]
    side_ids = {s["request_id"] for s in spark["sides"].values()}
    sides = [e for e in events(gw, types=("query.started", "query.completed"))
             if e["request_id"] in side_ids]  # fmt: skip
    assert len(sides) == 6
    assert all(e["details"]["masks"]["id_number"] == "hash" for e in sides)
    completed = [e for e in sides if e["type"] == "query.completed"]
    assert all(e["rows"] > 0 for e in completed)


def test_an_unknown_engine_is_still_a_422(gw: DemoGateway) -> None:
    resp = start(gw, "dora", "demo.payroll_on_dibao", engine="hadoop")
    assert resp.status_code == 422, resp.text
    assert "spark" in resp.text and "embedded" in resp.text


def test_spark_is_in_the_registry_with_the_configured_master(gw: DemoGateway) -> None:
    engine = runner(gw).engines["spark"]
    assert isinstance(engine, SparkEngine) and engine.master == MASTER


# -- the engine on its own: cancel, guard --

FIELDS = {"civil.a": {"id": "string", "amount": "float64"}, "civil.b": {"id": "string"}}
SPEC = {
    "sides": [{"alias": "a", "dataset": "civil.a"}, {"alias": "b", "dataset": "civil.b"}],
    "joins": [{"left": "a", "left_key": "id", "right": "b", "right_key": "id"}],
    "output": ["a.amount"],
}  # fmt: skip


def _model() -> Any:
    return compile_model(ModelSpec.model_validate(SPEC), model_id="t", version=1, fields=FIELDS)


def test_cancel_stops_a_running_spark_job() -> None:
    """A cross-product-sized join (one key on every row) is cancelled while Spark runs
    it: the run ends as cancelled within seconds, not when the join would finish."""
    rows = 200_000
    a = pa.table({"id": ["k"] * rows, "amount": [1.0] * rows})
    b = pa.table({"id": ["k"] * rows})
    engine = SparkEngine(master=MASTER, max_pairs=10**12)
    sc = spark_session(MASTER).sparkContext
    cancel = CancelToken()

    def cancel_once_running() -> None:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not sc.statusTracker().getActiveJobsIds():
            time.sleep(0.05)
        time.sleep(0.5)
        cancel.cancel()

    threading.Thread(target=cancel_once_running, daemon=True).start()
    began = time.monotonic()
    with pytest.raises(RunCancelled):
        engine.run(_model(), {"a": a.to_reader(), "b": b.to_reader()}, limit=10**12,
                   cancel=cancel, progress=lambda _: None)  # fmt: skip
    assert time.monotonic() - began < 60
    assert not sc.statusTracker().getActiveJobsIds()  # nothing left running


def test_a_cancel_between_two_jobs_stops_the_next_one() -> None:
    """The cancel lands while no Spark job runs (here: when the last join is reported,
    before the final collect starts). Cancelling the job group once then cancels nothing,
    and the collect of a cross-product-sized join ran for an hour (a hung CI run)."""
    rows = 200_000
    a = pa.table({"id": ["k"] * rows, "amount": [1.0] * rows})
    b = pa.table({"id": ["k"] * rows})
    cancel = CancelToken()

    def cancel_after_the_join(share: float) -> None:
        if share >= 0.5 and not cancel.cancelled:
            cancel.cancel()
            time.sleep(0.5)  # the watcher's first cancelJobGroup finds no job running

    began = time.monotonic()
    with pytest.raises(RunCancelled):
        SparkEngine(master=MASTER, max_pairs=10**12).run(
            _model(), {"a": a.to_reader(), "b": b.to_reader()}, limit=10,
            cancel=cancel, progress=cancel_after_the_join)  # fmt: skip
    assert time.monotonic() - began < 60
    sc = spark_session(MASTER).sparkContext
    assert not sc.statusTracker().getActiveJobsIds()


def test_a_cap_beyond_a_java_int_is_no_error() -> None:
    """Spark's limit takes a Java int; a caller's cap of 10**12 failed the run (and the
    cancel test above, whenever its cancel came after the join)."""
    a = pa.table({"id": ["k", "m"], "amount": [1.0, 2.0]})
    b = pa.table({"id": ["k", "m"]})
    hits = SparkEngine(master=MASTER, max_pairs=100).run(
        _model(), {"a": a.to_reader(), "b": b.to_reader()}, limit=10**12,
        cancel=CancelToken(), progress=lambda _: None)  # fmt: skip
    assert hits.table.num_rows == 2 and not hits.truncated


def test_a_join_past_max_pairs_is_refused() -> None:
    a = pa.table({"id": ["k"] * 50, "amount": [1.0] * 50})
    b = pa.table({"id": ["k"] * 50})
    with pytest.raises(TooLarge):
        SparkEngine(master=MASTER, max_pairs=100).run(
            _model(), {"a": a.to_reader(), "b": b.to_reader()}, limit=10,
            cancel=CancelToken(), progress=lambda _: None)  # fmt: skip


def test_no_source_password_in_the_record_or_our_log(
    gw: DemoGateway, caplog: pytest.LogCaptureFixture, capfd: pytest.CaptureFixture[str]
) -> None:
    """The JDBC password (the sources' secret) appears nowhere a run writes: the trail,
    our log, the process's stdout and stderr, Spark's own console (its JVM and Python
    workers write there, not on this process's captured descriptors: tests/spark_jvm.py)."""
    caplog.set_level(logging.DEBUG)
    mark = console_mark()
    spark = _run(gw, "dora", "demo.dibao_after_death", engine="spark")
    assert spark["status"] == "done", spark
    # requested, started, the two sides' completions, completed
    trail = orjson.dumps(events(gw, run_id=spark["id"], want=5))
    out, err = capfd.readouterr()
    logged = caplog.text + out + err + console_since(mark)
    assert SECRET.encode() not in trail and SECRET not in logged


def test_spark_reads_the_sides_itself_and_through_the_gateway_alike(
    gw: DemoGateway, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With the PostgreSQL sources, Spark reads every side by JDBC (the source is
    described once per side); with no reader for the source (``sources`` unset, as for
    an HTTP source), the gateway's governed reader feeds it: the same hits either way."""
    engine = runner(gw).engines["spark"]
    assert isinstance(engine, SparkEngine) and engine.sources is not None
    described: list[str] = []
    describe = engine.sources.describe
    monkeypatch.setattr(engine.sources, "describe",
                        lambda entry: described.append(entry.id) or describe(entry))  # fmt: skip
    pushed = _run(gw, "dora", "demo.duplicate_subsidy", engine="spark")
    assert sorted(described) == ["finance.fund_disbursements"] * 2
    monkeypatch.setattr(engine, "sources", None)
    through = _run(gw, "dora", "demo.duplicate_subsidy", engine="spark")
    assert pushed["status"] == through["status"] == "done"
    assert _rows(hits(gw, "dora", pushed["id"])) == _rows(hits(gw, "dora", through["id"]))


def test_the_jdbc_password_is_used_but_never_shown(
    gw: DemoGateway, capsys: pytest.CaptureFixture[str]
) -> None:
    """The keyring's password goes to Spark as a JDBC option: not in the description's
    repr, not in the plan Spark prints for the read."""
    with gw.services.engine.connect() as conn:
        entry = load_entry(conn, "civil.dibao_recipients")
    assert entry is not None
    read = SparkSources(gw.services).describe(entry)
    assert read.format == "jdbc" and read.options["password"] == SECRET
    assert SECRET not in repr(read) and SECRET not in read.location
    frame = load_source(spark_session(MASTER), read)
    frame.explain("extended")
    assert frame.count() > 0
    printed = capsys.readouterr().out
    assert "JDBCRelation" in printed and SECRET not in printed


WILDCARDS: dict[str, Any] = {
    "id": "test.spark_wildcards",
    "name": {"zh": "通配符", "en": "Wildcards in a side's prefix"},
    "sides": [{"alias": "p", "dataset": "finance.payroll"},
              {"alias": "d", "dataset": "civil.dibao_recipients"}],
    "joins": [{"left": "p", "left_key": "id_number", "right": "d", "right_key": "id_number"}],
    "output": ["p.name", "d.region_code"],
}  # fmt: skip


@pytest.mark.parametrize("prefix", ["%", "_30121", "4301%", "430121' OR '1'='1"])
def test_a_prefix_cannot_widen_a_spark_read(gw: DemoGateway, prefix: str) -> None:
    """alice (her county only) puts LIKE wildcards or a quote into a side's prefix: Spark
    pushes ``startswith`` into the SQL as LIKE, but the exact check it makes itself
    keeps the prefix literal, and her jurisdiction holds — the same (no) hits as the
    embedded engine, nothing from another county."""
    model = {**WILDCARDS, "id": f"test.spark_wildcards_{abs(hash(prefix)) % 10**6}"}
    model["sides"] = [model["sides"][0], {**model["sides"][1], "where": [
        {"field": "region_code", "op": "prefix", "value": prefix}]}]  # fmt: skip
    created = gw.client.post("/api/v1/comparison-models", json=model, headers=gw.headers("alice"))
    assert created.status_code == 201, created.text
    embedded = _run(gw, "alice", model["id"], engine="embedded")
    spark = _run(gw, "alice", model["id"], engine="spark")
    assert spark["status"] == embedded["status"] == "done", spark
    assert spark["hits"] == embedded["hits"] == 0


def test_cancelling_a_spark_run_through_the_api(
    gw: DemoGateway, monkeypatch: pytest.MonkeyPatch
) -> None:
    """dora cancels a Spark run while it prepares its first read: the run ends as
    cancelled, on record as aborted, and so does every side — none left open."""
    engine = runner(gw).engines["spark"]
    assert isinstance(engine, SparkEngine) and engine.sources is not None
    entered, release = threading.Event(), threading.Event()
    describe = engine.sources.describe

    def held(entry: Any) -> Any:
        entered.set()
        release.wait(120)
        return describe(entry)

    monkeypatch.setattr(engine.sources, "describe", held)
    resp = start(gw, "dora", "demo.payroll_on_dibao", engine="spark")
    assert resp.status_code == 202, resp.text
    run_id = resp.json()["id"]
    try:
        assert entered.wait(120)
        cancel = gw.client.post(f"/api/v1/comparison-runs/{run_id}/cancel",
                                headers=gw.headers("dora"))  # fmt: skip
        assert cancel.status_code in (200, 202), cancel.text
    finally:
        release.set()
    view = wait(gw, "dora", run_id, timeout_s=120)
    assert view["status"] == "cancelled", view
    trail = events(gw, run_id=run_id, want=3)
    assert "comparison.aborted" in [e["type"] for e in trail]
    side_ids = {s["request_id"] for s in view["sides"].values()}
    ends = [e for e in events(gw, types=("query.aborted", "query.completed", "query.failed"))
            if e["request_id"] in side_ids]  # fmt: skip
    assert sorted(e["type"] for e in ends) == ["query.aborted", "query.aborted"]


@pytest.fixture(scope="module")
def sqlite_gw(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DemoGateway]:
    """The demo as shipped: each department's tables in its own SQLite file."""
    with demo_gateway(tmp_path_factory.mktemp("spark-sqlite"), sizes=PLANTED,
                      spark_master=MASTER) as g:  # fmt: skip
        yield g


@pytest.mark.parametrize("subject", ["dora", "alice"])
def test_sqlite_sources_read_by_spark_give_the_same_hits(
    sqlite_gw: DemoGateway, monkeypatch: pytest.MonkeyPatch, subject: str
) -> None:
    """The three-way model over the departments' SQLite files, each side read by
    Spark's JDBC reader (dates and amounts typed from SQLite's text and reals by the
    plan's cast): the embedded engine's hit list."""
    engine = runner(sqlite_gw).engines["spark"]
    assert isinstance(engine, SparkEngine) and engine.sources is not None
    described: list[str] = []
    describe = engine.sources.describe
    monkeypatch.setattr(engine.sources, "describe",
                        lambda entry: described.append(entry.id) or describe(entry))  # fmt: skip
    embedded = _run(sqlite_gw, subject, "demo.ghost_on_payroll", engine="embedded")
    spark = _run(sqlite_gw, subject, "demo.ghost_on_payroll", engine="spark")
    assert spark["status"] == embedded["status"] == "done", spark
    assert len(described) == 3  # every side read by Spark
    assert spark["hits"] == embedded["hits"] > 0
    assert _rows(hits(sqlite_gw, subject, spark["id"])) == _rows(
        hits(sqlite_gw, subject, embedded["id"]))  # fmt: skip


@pytest.fixture(scope="module")
def mysql_gw(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DemoGateway]:
    """The departments' tables on MariaDB (read by the MariaDB JDBC driver)."""
    name, url = create_mysql_database("sluice_spark")
    try:
        with demo_gateway(tmp_path_factory.mktemp("spark-my"), backend_url=url, sizes=PLANTED,
                          spark_master=MASTER) as g:  # fmt: skip
            yield g
    finally:
        drop_mysql_database(name)


def test_mariadb_sources_read_by_spark_give_the_same_hits(
    mysql_gw: DemoGateway, monkeypatch: pytest.MonkeyPatch
) -> None:
    """alice's three-way run over MariaDB, whose LIKE ignores case: each side read by
    Spark's JDBC reader, her county only, the embedded engine's hit list."""
    engine = runner(mysql_gw).engines["spark"]
    assert isinstance(engine, SparkEngine) and engine.sources is not None
    described: list[str] = []
    describe = engine.sources.describe
    monkeypatch.setattr(engine.sources, "describe",
                        lambda entry: described.append(entry.id) or describe(entry))  # fmt: skip
    embedded = _run(mysql_gw, "alice", "demo.ghost_on_payroll", engine="embedded")
    spark = _run(mysql_gw, "alice", "demo.ghost_on_payroll", engine="spark")
    assert spark["status"] == embedded["status"] == "done", spark
    assert len(described) == 3
    assert spark["hits"] == embedded["hits"] > 0
    rows = _rows(hits(mysql_gw, "alice", spark["id"]))
    assert rows == _rows(hits(mysql_gw, "alice", embedded["id"]))


@pytest.mark.parametrize("backend", ["gw", "mysql_gw"])
def test_jdbc_sides_are_read_by_several_tasks_under_the_row_filter(
    request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch, backend: str
) -> None:
    """alice's run on PostgreSQL and on MariaDB: each side's JDBC read is split over
    more than one Spark partition (a task and a query each), the jurisdiction's
    ``startswith`` is among the filters pushed into every partition's query and Spark's
    exact prefix check stays in the plan; the hits are the embedded engine's."""
    g: DemoGateway = request.getfixturevalue(backend)
    frames: list[Any] = []
    governed = spark_engine.governed_frame

    def spy(*args: Any) -> Any:
        frames.append(governed(*args))
        return frames[-1]

    monkeypatch.setattr(spark_engine, "governed_frame", spy)
    embedded = _run(g, "alice", "demo.dibao_after_death", engine="embedded")
    spark = _run(g, "alice", "demo.dibao_after_death", engine="spark")
    assert spark["status"] == embedded["status"] == "done", spark
    assert spark["hits"] == embedded["hits"] > 0
    assert _rows(hits(g, "alice", spark["id"])) == _rows(hits(g, "alice", embedded["id"]))
    assert len(frames) == 2
    for frame in frames:
        assert frame.rdd.getNumPartitions() >= 2
        plan = frame._jdf.queryExecution().executedPlan().toString()
        scan = next(line for line in plan.splitlines() if "Scan JDBCRelation" in line)
        assert re.search(r"\[numPartitions=([2-9]|\d\d+)\]", scan), scan
        assert f"StringStartsWith(region_code,{ALICE_COUNTY})" in scan, scan
        assert "substring(cast(region_code#" in plan or "substring(region_code#" in plan, plan


def _dibao_side_completed(gw: DemoGateway, run: dict[str, Any]) -> dict[str, Any]:
    """The ``query.completed`` of a run's side over the dibao roll."""
    side_ids = {s["request_id"] for s in run["sides"].values()}
    done = [e for e in events(gw, types=("query.completed",))
            if e["request_id"] in side_ids
            and e["resource"] == "dataset:civil.dibao_recipients"]  # fmt: skip
    assert len(done) == 1, done
    return done[0]


def test_a_spark_side_flags_the_runners_own_record_past_the_first_thousand(
    gw: DemoGateway,
) -> None:
    """Red team 36's left row: a Spark side recorded the first ``MAX_TOKENS`` people it
    read and compared the runner's own token with those only; dora's own record past
    them went unflagged (``self_hash_hit: false``), as the embedded reader's did before
    red team 36 (tests/attacks/test_redteam36_analyst_own_record_beyond_cap.py)."""
    first = _run(gw, "dora", "demo.payroll_on_dibao", engine="spark")
    assert first["status"] == "done", first
    recorded = set(_dibao_side_completed(gw, first)["details"]["subject_tokens"])
    subjects = gw.client.app.state.broker.subjects  # type: ignore[attr-defined]
    with psycopg.connect(BACKEND["url"]) as conn:
        numbers = [r[0] for r in conn.execute("SELECT id_number FROM dibao_recipients")]
    assert len(recorded) == MAX_TOKENS < len(numbers)
    own = next(n for n in numbers if subjects.token(n) not in recorded)
    set_own_id_number(gw, "dora", own)
    try:
        again = _run(gw, "dora", "demo.payroll_on_dibao", engine="spark")
        assert again["status"] == "done", again
        details = _dibao_side_completed(gw, again)["details"]
        assert subjects.token(own) not in details["subject_tokens"]  # past the list again
        assert details["self_hash_hit"] is True, details.get("self_hash_hit")
    finally:  # a number of no one in the data: the module's later runs flag nothing
        set_own_id_number(gw, "dora", _nobody(own, set(numbers)))


def _nobody(like: str, taken: set[str]) -> str:
    """A well-formed ID number beside ``like`` that is not in ``taken``."""
    for serial in range(1000):
        body = f"{like[:14]}{serial:03d}"
        number = body + ric.calc_check_digit(body)
        if number not in taken and is_resident_id(number):
            return number
    raise AssertionError("no free number")
