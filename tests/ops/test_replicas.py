"""Three replicas on one PostgreSQL and one Redis, as ``docs/deploy.md`` deploys them:
separate homes holding the shared secrets, the runtime role, OIDC, production settings,
``SLUICE_TRUSTED_PROXIES`` for the proxy in front (the clients here send the
``X-Forwarded-For`` a proxy would).

Under concurrent clients: one audit chain that verifies, one daily row quota across
the replicas, a change made through one replica (a new user, a suspension, a frozen
entry) governing the very next request on every replica, and a replica killed with
SIGKILL mid-run losing nothing on record.

Users are made fresh per run (``ops-<tag>-…``), so their Redis counters (keyed by
subject) are this run's alone on the machine's shared Redis.
"""

from __future__ import annotations

import shutil
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import orjson
import psycopg
import pytest

from tests import live_http
from tests.conftest import PG_ADMIN
from tests.ops.deployment import DIBAO, Deployment
from tests.ops.processes import Served, serve, sluice, stop_all

pytestmark = pytest.mark.xdist_group("ops-replicas")  # one cluster, on one xdist worker
QUOTA = 1000  # rows per user per day, on every replica
PAYROLL = "finance.payroll"
BODY = {"fields": ["name", "id_number", "region_code"], "purpose": "supervision",
        "case_ref": "OPS-R", "limit": 5}  # fmt: skip


@dataclass
class Cluster:
    guided: Deployment
    replicas: list[Served]
    settings: list[dict[str, str]]
    tag: str = field(default_factory=lambda: uuid.uuid4().hex[:8])

    def logs(self) -> str:
        """What the replicas said besides their access lines (for failure messages)."""
        return "\n".join(f"--- {r.name}\n" + "\n".join(
            line for line in r.output().splitlines()[-400:] if '"http.request"' not in line
        )[-3000:] for r in self.replicas)  # fmt: skip

    def live(self) -> list[Served]:
        return [r for r in self.replicas if r.alive]

    def headers(self, subject: str, forwarded: str | None = None) -> dict[str, str]:
        headers = self.guided.idp.headers(subject)
        if forwarded:
            headers["X-Forwarded-For"] = forwarded
        return headers

    def query(self, replica: Served, subject: str, body: dict[str, Any] = BODY,
              dataset: str = DIBAO, forwarded: str | None = None) -> httpx.Response:  # fmt: skip
        return live_http.post(f"{replica.base}/api/v1/datasets/{dataset}/query", json=body,
                          headers=self.headers(subject, forwarded), timeout=30)  # fmt: skip

    def call(self, replica: Served, subject: str, method: str, path: str,
             body: dict[str, Any] | None = None) -> httpx.Response:  # fmt: skip
        resp = live_http.request(method, f"{replica.base}{path}", json=body,
                             headers=self.headers(subject), timeout=30)  # fmt: skip
        assert resp.status_code == 200, (method, path, resp.status_code, resp.text)
        return resp

    def add_analyst(self, replica: Served, name: str) -> str:
        """A fresh analyst (every region, L3), made through one replica by root."""
        subject = f"ops-{self.tag}-{name}"
        self.call(replica, "root", "PUT", f"/api/v1/admin/users/{subject}",
                  {"display_name": name, "clearance": "L3", "jurisdiction": [""]})  # fmt: skip
        self.call(replica, "root", "POST", f"/api/v1/admin/users/{subject}/roles",
                  {"role": "analyst", "domain": "*"})  # fmt: skip
        return subject

    def events(self) -> list[dict[str, Any]]:
        """Every event on the chain, read as the database's superuser would."""
        url = f"{PG_ADMIN.rsplit('/', 1)[0]}/{self.guided.db.name}"
        with psycopg.connect(url) as conn:
            rows = conn.execute("SELECT body FROM audit_events ORDER BY seq").fetchall()
        return [orjson.loads(row[0]) for row in rows]


@pytest.fixture(scope="module")
def cluster(guided: Deployment, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    directory = tmp_path_factory.mktemp("replicas")
    settings = []
    for name in ("a", "b", "c"):
        home = guided.new_home(directory / f"home-{name}")
        settings.append(guided.settings(
            home,
            SLUICE_GATEWAY_ID=f"replica-{name}",
            SLUICE_REDIS_URL="redis://127.0.0.1:6379/0",
            SLUICE_TRUSTED_PROXIES="127.0.0.1",
            SLUICE_DAILY_ROW_QUOTA=str(QUOTA),
            SLUICE_RATE_LIMIT="100000/minute",
            # two shared cores under eight engineers' suites: a durable commit can take
            # seconds, and a 503 for a slow append is not what these tests are about
            SLUICE_AUDIT_APPEND_TIMEOUT_S="10",
        ))  # fmt: skip
    replicas = [serve(s["SLUICE_GATEWAY_ID"], s, directory) for s in settings]
    try:
        for replica in replicas:
            replica.wait_ready()
        yield Cluster(guided=guided, replicas=replicas, settings=settings)
    finally:
        stop_all(replicas)


def test_a_change_through_one_replica_governs_the_next_request_on_every_replica(
    cluster: Cluster,
) -> None:
    a, b, c = cluster.replicas
    user = cluster.add_analyst(a, "fresh")
    # the new user, made through a, is known to b and c on their very next request
    answers = [cluster.query(r, user) for r in (b, c, a)]
    assert [r.status_code for r in answers] == [200, 200, 200]

    cluster.call(c, "sam", "POST", f"/api/v1/users/{user}/suspend", {"reason": "ops test"})
    for replica in (a, b, c):
        refused = cluster.query(replica, user)
        assert refused.status_code == 403, (refused.text, cluster.logs())
        codes = [c["code"] for c in refused.json()["details"]["reason_codes"]]
        assert codes == ["account_disabled"], refused.text
    cluster.call(b, "root", "POST", f"/api/v1/users/{user}/unsuspend", {"reason": "ops test"})
    assert [cluster.query(r, user).status_code for r in (a, b, c)] == [200, 200, 200]

    cluster.call(a, "sam", "POST", f"/api/v1/datasets/{PAYROLL}/freeze", {"reason": "ops test"})
    payroll = {**BODY, "fields": ["name"]}
    for replica in (a, b, c):
        frozen = cluster.query(replica, user, payroll, dataset=PAYROLL)
        assert frozen.status_code == 423, frozen.text
        assert frozen.json()["code"] == "dataset_frozen"
    cluster.call(c, "root", "POST", f"/api/v1/datasets/{PAYROLL}/unfreeze", {"reason": "ops"})
    assert [cluster.query(r, user, payroll, dataset=PAYROLL).status_code
            for r in (a, b, c)] == [200, 200, 200]  # fmt: skip

    # the replicas share the masking secret: the same rows give the same subject tokens
    ids = {r.headers["X-Request-Id"] for r in answers}
    tokens = [e["details"]["subject_tokens"] for e in cluster.events()
              if e["type"] == "query.completed" and e["request_id"] in ids]  # fmt: skip
    assert len(tokens) == 3 and tokens[0] and tokens[0] == tokens[1] == tokens[2]


def _superuser(cluster: Cluster, sql: str, params: tuple[Any, ...] = ()) -> list[Any]:
    """SQL as a database insider would send it (the superuser, behind every replica)."""
    url = f"{PG_ADMIN.rsplit('/', 1)[0]}/{cluster.guided.db.name}"
    with psycopg.connect(url) as conn:
        cursor = conn.execute(sql, params)
        return cursor.fetchall() if cursor.description else []


def test_a_row_written_back_after_a_change_on_one_replica_governs_on_none(
    cluster: Cluster,
) -> None:
    """The replay (THREAT_MODEL): a role line revoked through replica a, a user row
    suspended through c, each written back at once by the insider, with its old seal.
    b never saw the changed row; it reads the trail's newest binding when it reads the
    row again, so no replica honours the copy, and a change through b honours it again
    everywhere."""
    a, b, c = cluster.replicas
    user = cluster.add_analyst(a, "replay")
    assert [cluster.query(r, user).status_code for r in (a, b, c)] == [200, 200, 200]
    columns = "id, ptype, v0, v1, v2, v3, v4, v5, seal"
    line = _superuser(cluster, f"SELECT {columns} FROM casbin_rule WHERE v0 = %s", (user,))
    assert len(line) == 1
    cluster.call(a, "root", "DELETE", f"/api/v1/admin/users/{user}/roles/analyst/*")
    _superuser(cluster, f"INSERT INTO casbin_rule ({columns}) VALUES "
               "(%s, %s, %s, %s, %s, %s, %s, %s, %s)", tuple(line[0]))  # fmt: skip
    assert [cluster.query(r, user).status_code for r in (b, c, a)] == [403, 403, 403]
    cluster.call(b, "root", "POST", f"/api/v1/admin/users/{user}/roles",
                 {"role": "analyst", "domain": "*"})  # fmt: skip
    assert [cluster.query(r, user).status_code for r in (a, b, c)] == [200, 200, 200]

    row = _superuser(cluster, "SELECT status, seal FROM users WHERE subject = %s", (user,))[0]
    cluster.call(c, "sam", "POST", f"/api/v1/users/{user}/suspend", {"reason": "ops test"})
    _superuser(cluster, "UPDATE users SET status = %s, suspended_by = NULL, "
               "suspended_reason = NULL, suspended_at = NULL, seal = %s WHERE subject = %s",
               (*row, user))  # fmt: skip
    for replica in (b, a, c):
        refused = cluster.query(replica, user)
        assert refused.status_code == 403, refused.text
        assert refused.json()["code"] == "account_unsealed", refused.text


def test_an_entry_written_back_after_a_freeze_on_one_replica_serves_on_none(
    cluster: Cluster,
) -> None:
    """The entry replay (THREAT_MODEL): payroll frozen through replica a, its row from
    before the freeze written back at once, seal and all. b and c read the entry again
    under the new catalog generation and the trail's newest binding with it, so none
    serves it (423 ``entry_unsealed``); the frozen row back, a lift through c serves it
    everywhere again."""
    a, b, c = cluster.replicas
    user = cluster.add_analyst(a, "entry-replay")
    payroll = {**BODY, "fields": ["name"]}
    assert [cluster.query(r, user, payroll, dataset=PAYROLL).status_code
            for r in (a, b, c)] == [200, 200, 200]  # fmt: skip
    columns = "frozen_at, frozen_by, frozen_reason, seal"
    sql = f"SELECT {columns} FROM datasets WHERE id = %s"
    saved = _superuser(cluster, sql, (PAYROLL,))[0]
    cluster.call(a, "sam", "POST", f"/api/v1/datasets/{PAYROLL}/freeze", {"reason": "ops replay"})
    frozen = _superuser(cluster, sql, (PAYROLL,))[0]
    write_back = ("UPDATE datasets SET frozen_at = %s, frozen_by = %s, frozen_reason = %s, "
                  "seal = %s WHERE id = %s")  # fmt: skip
    _superuser(cluster, write_back, (*saved, PAYROLL))
    for replica in (b, c, a):
        refused = cluster.query(replica, user, payroll, dataset=PAYROLL)
        assert refused.status_code == 423, (refused.text, cluster.logs())
        assert refused.json()["code"] == "entry_unsealed", refused.text
    _superuser(cluster, write_back, (*frozen, PAYROLL))
    cluster.call(c, "root", "POST", f"/api/v1/datasets/{PAYROLL}/unfreeze", {"reason": "ops"})
    assert [cluster.query(r, user, payroll, dataset=PAYROLL).status_code
            for r in (a, b, c)] == [200, 200, 200]  # fmt: skip


def test_a_source_written_back_after_a_change_on_one_replica_reads_on_none(
    cluster: Cluster,
) -> None:
    """The source replay (THREAT_MODEL): carl re-points civil's source at a copy of its
    file through replica a, and its row from before is written back at once, seal and
    all. The write moves the catalog generation, so b and c load the entry again and
    read the trail's newest binding with it: none reads the old file (423
    ``source_unsealed``); the moved row back, every replica serves, and carl's move back
    through c serves everywhere."""
    a, b, c = cluster.replicas
    user = cluster.add_analyst(a, "source-replay")
    assert [cluster.query(r, user).status_code for r in (a, b, c)] == [200, 200, 200]
    sql = "SELECT settings, seal FROM sources WHERE id = 'civil-db'"
    saved = _superuser(cluster, sql)[0]
    original = str(saved[0]["url"])
    path = Path(original.removeprefix("sqlite:///"))
    copy = path.with_name(f"replica-moved-{cluster.tag}-{path.name}")
    shutil.copyfile(path, copy)
    moved_url = f"sqlite:///{copy}"
    cluster.call(a, "carl", "PATCH", "/api/v1/sources/civil-db", {"settings": {"url": moved_url}})
    moved = _superuser(cluster, sql)[0]
    write_back = "UPDATE sources SET settings = %s, seal = %s WHERE id = 'civil-db'"
    _superuser(cluster, write_back, (orjson.dumps(saved[0]).decode(), saved[1]))
    for replica in (b, c, a):
        refused = cluster.query(replica, user)
        assert refused.status_code == 423, (refused.text, cluster.logs())
        assert refused.json()["code"] == "source_unsealed", refused.text
    _superuser(cluster, write_back, (orjson.dumps(moved[0]).decode(), moved[1]))
    assert [cluster.query(r, user).status_code for r in (a, b, c)] == [200, 200, 200]
    cluster.call(c, "carl", "PATCH", "/api/v1/sources/civil-db", {"settings": {"url": original}})
    assert [cluster.query(r, user).status_code for r in (a, b, c)] == [200, 200, 200]


def test_one_daily_quota_across_the_replicas(cluster: Cluster) -> None:
    """Six queries at once, two per replica, each asking 300 rows of a 1,000-row quota:
    together they get exactly 1,000 (in memory each replica would hand out 1,000)."""
    user = cluster.add_analyst(cluster.replicas[0], "quota")
    body = {**BODY, "fields": ["region_code"], "limit": 300}
    targets = [r for r in cluster.replicas for _ in range(2)]
    with ThreadPoolExecutor(len(targets)) as pool:
        answers = list(pool.map(lambda r: cluster.query(r, user, body), targets))
    statuses = Counter(a.status_code for a in answers)
    assert set(statuses) <= {200, 429}, statuses
    sent = sum(len(orjson.loads(a.content)["rows"]) for a in answers if a.status_code == 200)
    assert sent == QUOTA
    for replica in cluster.replicas:
        assert cluster.query(replica, user, body).status_code == 429


@dataclass
class Outcome:
    replica: str
    status: int | None  # None: no answer (the replica died mid-request)
    request_id: str | None
    forwarded: str


def test_a_replica_killed_mid_run_loses_nothing_on_record(cluster: Cluster) -> None:
    a, b, c = cluster.replicas
    users = [cluster.add_analyst(a, f"load{i}") for i in range(3)]
    outcomes: list[Outcome] = []
    in_flight: Counter[str] = Counter()
    lock = threading.Lock()
    total = 6 * 20

    def client(n: int) -> None:
        forwarded = f"203.0.113.{n + 10}"
        for i in range(20):
            replica = cluster.replicas[(n + i) % 3]
            if not replica.alive:  # the proxy would send it elsewhere
                replica = cluster.live()[i % len(cluster.live())]
            with lock:
                in_flight[replica.name] += 1
            try:
                resp = cluster.query(replica, users[n % 3], forwarded=forwarded)
                got = Outcome(replica.name, resp.status_code, resp.headers.get("X-Request-Id"),
                              forwarded)  # fmt: skip
            except httpx.HTTPError:
                got = Outcome(replica.name, None, None, forwarded)
            with lock:
                in_flight[replica.name] -= 1
                outcomes.append(got)

    threads = [threading.Thread(target=client, args=(n,)) for n in range(6)]
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:  # a third done, and c answering someone right now
        with lock:
            if len(outcomes) >= total // 3 and in_flight[c.name] > 0:
                break
        time.sleep(0.001)
    c.kill()  # SIGKILL, mid-run and mid-request
    for thread in threads:
        thread.join()

    served = [o for o in outcomes if o.status == 200]
    assert len(served) >= total * 2 // 3, Counter((o.replica, o.status) for o in outcomes)
    assert {o.status for o in outcomes} <= {200, None}
    events = _by_request(cluster, [o.request_id for o in served if o.replica != c.name])

    lost_ends = []
    for o in served:
        mine = events.get(str(o.request_id), [])
        types = [e["type"] for e in mine]
        assert "query.started" in types, (o, types)  # durable before any byte left
        started = next(e for e in mine if e["type"] == "query.started")
        assert started["client"] == o.forwarded  # the proxy's X-Forwarded-For believed
        if "query.completed" not in types:
            lost_ends.append(o)
    # a surviving replica records every end; the killed one can lose only completions
    # queued in its last instant (their starts are on record, as queries never ended)
    assert [o for o in lost_ends if o.replica != c.name] == []
    assert len(lost_ends) <= 6, lost_ends

    for replica in (a, b):  # one chain, verified by each survivor
        verdict = cluster.call(replica, "sam", "GET", "/api/v1/audit/verify").json()
        assert verdict["ok"] is True, verdict
    # the killed replica's own witness file agrees with the chain it wrote into
    verified = sluice("audit", "verify", settings=cluster.settings[2])
    assert verified.returncode == 0, verified.stdout[-2000:] + verified.stderr[-2000:]
    cut = sum(o.status is None for o in outcomes)
    print(
        f"\n{len(served)} of {len(outcomes)} answered 200, {cut} cut by the kill; ends "
        f"lost with the killed replica: {len(lost_ends)}"
    )


def _by_request(cluster: Cluster, settled: list[str | None]) -> dict[str, list[dict[str, Any]]]:
    """The chain's events by request id, once every request in ``settled`` has its end
    (completions are queued behind the response: a live writer commits them at once,
    but give a loaded machine up to 15 s)."""
    deadline = time.monotonic() + 15
    while True:
        events: dict[str, list[dict[str, Any]]] = {}
        for event in cluster.events():
            events.setdefault(str(event.get("request_id")), []).append(event)
        ended = all(any(e["type"] == "query.completed" for e in events.get(str(r), []))
                    for r in settled)  # fmt: skip
        if ended or time.monotonic() > deadline:
            return events
        time.sleep(0.2)


def test_the_homes_hold_what_the_guide_says(cluster: Cluster) -> None:
    """Each replica its own audit key and gateway id; the shared secrets the same."""
    homes = [Path(s["SLUICE_HOME"]) for s in cluster.settings]
    audit_keys = {tuple(sorted(p.name for p in (h / "keys" / "audit").glob("ed25519-*.pem")))
                  for h in homes}  # fmt: skip
    assert len(audit_keys) == 3
    assert len({(h / "keys" / "mask.secret").read_bytes() for h in homes}) == 1
