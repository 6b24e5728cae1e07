"""Red team 61, as a database insider (the owner role, or write access to the SQLite
file), against the operator running a ``sluice`` command on the host.

Rule: what the checked database holds reaches the operator's terminal escaped (red
team 59), failures included.

Attack: a trigger of the insider's refuses every new user with an error message of
their choosing — PostgreSQL's ``RAISE EXCEPTION``, SQLite's ``RAISE(ABORT, …)`` take any
text — holding ``ESC[1A ESC[2K CR`` and "user carol saved" (a cursor up, the line
erased, and the words ``sluice users add`` prints on success). ``sluice users add
carol`` died with a Python traceback whose last lines quote the driver's message raw:
the terminal ran the sequence over the traceback's own line (the exit status alone still
said 1). Any failure a command does not turn into one line is printed this way.

Expected: the traceback is still printed (a failure no command foresaw is a bug to
read), with every control character but the line breaks escaped; exit status 1. A real
process (the hook is Python's, which a test runner's in-process invocation does not
use); on the embedded default and on PostgreSQL.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.attacks.deployments import KINDS, open_deployment
from tests.attacks.test_redteam24_steward_terminal_text import CONTROL
from tests.gateway.demo_app import DemoGateway

MESSAGE = "\x1b[1A\x1b[2K\ruser carol saved"
ROOT = Path(__file__).resolve().parents[2]
SQLITE = (
    "CREATE TRIGGER rt61_refuses BEFORE INSERT ON users "
    f"BEGIN SELECT RAISE(ABORT, '{MESSAGE}'); END"
)
PG_FUNCTION = (
    "CREATE FUNCTION rt61_refuses() RETURNS trigger LANGUAGE plpgsql AS "
    f"$body$ BEGIN RAISE EXCEPTION '{MESSAGE}'; END $body$"
)
PG_TRIGGER = (
    "CREATE TRIGGER rt61_refuses BEFORE INSERT ON users "
    "FOR EACH ROW EXECUTE FUNCTION rt61_refuses()"
)


@pytest.fixture(scope="module", params=KINDS)
def gw(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
       ) -> Iterator[DemoGateway]:  # fmt: skip
    home = tmp_path_factory.mktemp(f"red61-raise-{request.param}")
    with open_deployment(request.param, home, db_prefix="sluice_red61_raise") as gateway:
        if request.param == "sqlite":
            gateway.sql(SQLITE)
        else:
            gateway.sql(PG_FUNCTION)
            gateway.sql(PG_TRIGGER)
        yield gateway


def test_a_drivers_message_in_a_traceback_is_escaped(gw: DemoGateway) -> None:
    env = {**os.environ, "SLUICE_HOME": str(gw.settings.home), "PYTHONPATH": str(ROOT),
           "SLUICE_DATABASE_URL": gw.settings.resolved_database_url}  # fmt: skip
    done = subprocess.run([sys.executable, "-m", "gateway.cli.main", "users", "add", "carol61",
                           "--name", "Carol"], env=env, capture_output=True, timeout=120,
                          cwd=ROOT)  # fmt: skip
    err = done.stderr.decode("utf-8", "replace")
    assert done.returncode == 1, (done.returncode, err[-2000:])
    assert "Traceback" in err, err[-2000:]  # still the whole story for a bug
    assert "user carol saved" in err, err[-2000:]
    found = CONTROL.search(err.replace("\r\n", "\n"))
    assert found is None, ascii(err[max(found.start() - 200, 0) : found.end() + 80])
    assert "\\u001b[1A" in err, ascii(err[-2000:])
