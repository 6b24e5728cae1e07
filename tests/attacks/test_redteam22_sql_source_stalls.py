"""Red team 22, as a compromised partner source (a department's PostgreSQL or MariaDB
server, or what stands between it and the gateway): take the query, then send nothing
back for a while.

Rule (THREAT_MODEL, "Compromised partner source ... or hangs. Defences: statement
timeouts and max rows on every adapter"): each fetch from a source ends within
``SLUICE_STATEMENT_TIMEOUT_S`` or fails (504 ``source_timeout``, ``query.failed`` on
record).

Attack: civil's database is reached through a relay (the server's own proxy, a load
balancer, or a server that no longer plays by the protocol). Once the gateway sends the
entry's query the relay holds the answer for eight statement timeouts, then lets it
through. The statement timeout the gateway sets in the session is the server's to
enforce: a server that has answered (or ignores it) never fires it, and a cancel reaches
a backend with nothing to cancel. The gateway's socket had no deadline of its own.

Expected: dora's query fails 504 a moment after the statement timeout, and the source
serves the next query. On main it waited for the relay (a 200 after eight timeouts; for
ever, with a relay that never lets go), holding her query, the source's read slot and a
gateway worker: 3 of 3 failed.

A PostgreSQL source runs beside the embedded deployment only: a PostgreSQL deployment's
catalog lives on the machine's one PostgreSQL server, and a source on the catalog's
server is refused whatever relay names it (issue 11, class 3), as it should be.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pymysql
import pytest

from tests.attacks.deployments import open_deployment
from tests.attacks.redteam22 import publish_over
from tests.conftest import (
    MYSQL_HOST,
    PG_ADMIN,
    create_mysql_database,
    create_pg_database,
    drop_mysql_database,
    drop_pg_database_later,
)
from tests.gateway.demo_app import DemoGateway

TIMEOUT_S = 1.0
HOLD_S = 15.0
# an answer within the timeout and a loaded machine's margin (seen: 4.5 s at load 15),
# well short of the hold an unbounded wait would sit out
BOUND_S = TIMEOUT_S + 6.0
Q = {"purpose": "supervision", "case_ref": "JW-2026-022", "fields": ["id", "region_code"]}


class Relay:
    """127.0.0.1:<port> → the PostgreSQL server; while ``armed``, the answer to a
    message naming ``people`` is held ``HOLD_S`` (then passed on)."""

    def __init__(self, upstream: tuple[str, int], set_up: bytes) -> None:
        self.upstream = upstream
        self.set_up = set_up  # what a new connection's session set-up sends
        self.marker = b"people"  # whose answer is held while armed
        self.armed = False
        self.held = 0
        self.let_go = threading.Event()  # set: held answers pass on at once
        self.open: list[socket.socket] = []
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            server = socket.create_connection(self.upstream)
            self.open += [client, server]
            hold = threading.Event()
            threading.Thread(target=self._pump, args=(client, server, hold, True),
                             daemon=True).start()  # fmt: skip
            threading.Thread(target=self._pump, args=(server, client, hold, False),
                             daemon=True).start()  # fmt: skip

    def _pump(self, src: socket.socket, dst: socket.socket, hold: threading.Event,
              upward: bool) -> None:  # fmt: skip
        try:
            while data := src.recv(65536):
                if upward and self.armed and self.marker in data:
                    self.held += 1
                    hold.set()
                elif not upward and hold.is_set():
                    self.let_go.wait(HOLD_S)
                    hold.clear()
                dst.sendall(data)
        except OSError:
            return
        finally:
            for s in (src, dst):
                with contextlib.suppress(OSError):
                    s.shutdown(socket.SHUT_RDWR)

    def arm(self, marker: bytes = b"people") -> None:
        self.let_go.clear()
        self.marker, self.armed = marker, True

    def disarm(self) -> None:
        """Nothing held from now on, and what is held passes on (no test waits it out)."""
        self.armed, self.marker = False, b"people"
        self.let_go.set()

    def cut_all(self) -> None:
        """Every connection relayed so far broken (the pooled ones go)."""
        for sock in self.open:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
        self.open.clear()

    def close(self) -> None:
        self.listener.close()


# (deployment, source's server): a PostgreSQL source beside a PostgreSQL catalog is on
# the catalog's server (refused, rightly); MariaDB stands beside both deployments
CASES = [("sqlite", "postgresql"), ("sqlite", "mysql"), ("postgres", "mysql")]


SET_UP = {"postgresql": b"default_transaction_read_only", "mysql": b"TRANSACTION READ ONLY"}


def _source_database(backend: str) -> tuple[str, tuple[str, int], str]:
    """A database of the source's server holding ``people``: its name, the server's
    address, and the URL scheme and user that reach it."""
    if backend == "postgresql":
        name, _url = create_pg_database("redteam22_src")
        with psycopg.connect(f"{PG_ADMIN.rsplit('/', 1)[0]}/{name}", autocommit=True) as conn:
            conn.execute(CREATE)
            conn.execute(INSERT)
        return name, ("127.0.0.1", 5432), "postgresql://postgres"
    name, _url = create_mysql_database("redteam22_src")
    conn = pymysql.connect(host=MYSQL_HOST, user="root", password="", database=name)
    try:
        with conn.cursor() as cur:
            cur.execute(CREATE.replace("text", "varchar(6)"))
            cur.execute(INSERT)
        conn.commit()
    finally:
        conn.close()
    return name, (MYSQL_HOST, 3306), "mysql://root"


CREATE = "CREATE TABLE people (id integer PRIMARY KEY, region_code text)"
INSERT = "INSERT INTO people VALUES (1, '430121'), (2, '430121'), (3, '430121')"


@pytest.fixture(scope="module", params=CASES, ids=["-".join(c) for c in CASES])
def world(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[DemoGateway, Relay]]:
    deployment, backend = request.param
    name, upstream, scheme = _source_database(backend)
    relay = Relay(upstream, SET_UP[backend])
    home: Path = tmp_path_factory.mktemp(f"rt22-stall-{deployment}-{backend}")
    try:
        with open_deployment(deployment, home, db_prefix="redteam22_stall",
                             source_allow_hosts=["127.0.0.1"],
                             statement_timeout_s=TIMEOUT_S) as gw:  # fmt: skip
            publish_over(gw, "carl", {
                "id": "civil-rt22", "department": "civil", "kind": backend,
                "display_name": "civil database",
                "settings": {"url": f"{scheme}@127.0.0.1:{relay.port}/{name}"},
            }, "people", "civil.db_people")  # fmt: skip
            assert gw.query("dora", "civil.db_people", Q).status_code == 200  # quick: fine
            yield gw, relay
    finally:
        relay.close()
        if backend == "postgresql":
            drop_pg_database_later(name)
        else:
            drop_mysql_database(name)


def test_a_source_that_holds_its_answer_fails_at_the_statement_timeout(
    world: tuple[DemoGateway, Relay],
) -> None:
    gw, relay = world
    relay.arm()
    try:
        started = time.monotonic()
        resp = gw.query("dora", "civil.db_people", Q)
        took = time.monotonic() - started
    finally:
        relay.disarm()
    assert relay.held, "the relay never saw the entry's query"
    assert resp.status_code == 504, (resp.status_code, resp.text[:300], took)
    assert resp.json()["code"] == "source_timeout", resp.text
    assert took < BOUND_S, took
    events = gw.request_events(gw.last_request_id(), want=2)
    assert events[-1]["type"] == "query.failed", events


def test_a_new_connection_held_at_its_set_up_fails_at_the_statement_timeout(
    world: tuple[DemoGateway, Relay],
) -> None:
    """The session set-up of a new connection (its ``SET``s, the server's identity) is
    an exchange with the server too: held, it had no deadline either."""
    gw, relay = world
    relay.arm(relay.set_up)
    relay.cut_all()  # the pooled connections go: the next query connects again
    answers = []
    try:
        for _ in range(12):  # each pooled connection fails once (502), then a new one
            started = time.monotonic()
            resp = gw.query("dora", "civil.db_people", Q)
            answers.append((resp.status_code, round(time.monotonic() - started, 1)))
            if resp.status_code != 502:
                break
    finally:
        relay.disarm()
    assert relay.held, ("the relay never saw a session set-up", answers)
    status, took = answers[-1]
    assert status == 504, answers
    assert took < BOUND_S, answers


def test_the_source_serves_again_afterwards(world: tuple[DemoGateway, Relay]) -> None:
    """The connection cut at the deadline is never handed to the next query."""
    gw, _relay = world
    resp = gw.query("dora", "civil.db_people", Q)
    assert resp.status_code == 200, resp.text
    assert resp.json()["row_count"] == 3, resp.text
