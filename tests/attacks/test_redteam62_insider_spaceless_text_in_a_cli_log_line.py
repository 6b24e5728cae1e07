"""Red team 62, as a database insider (the owner role, or write access to the SQLite
file), against the operator running a ``sluice`` command on the host.

Rule: what the database says reaches the operator's terminal escaped (red teams 59, 61),
the log lines a command writes included.

Attack: a ``sluice`` command's log lines are structlog's defaults
(``audit.lazy_log.logs_to_stderr``, not ``gateway.core.logs``): the console renderer
quotes (``repr``) a text value holding white space and prints any other as it is. A
trigger of the insider's on ``audit_events`` refuses every event with a message of no
white space — ``ESC[1A ESC[2K`` and an OSC setting the window's title — and ``sluice
users add`` logs ``audit_append_failed error=<the driver's message>`` before its error
line: on the embedded default (SQLite's message is the trigger's text alone) the
sequence ran in the operator's terminal; PostgreSQL's adds a ``CONTEXT`` line, whose
white space had the value quoted.

Expected: nothing the command writes to the terminal holds a raw control but the line
breaks. A real process; on the embedded default and on PostgreSQL.
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

MESSAGE = "\x1b[1A\x1b[2K\x1b]0;carol_saved\x07"
ROOT = Path(__file__).resolve().parents[2]
SQLITE = (
    "CREATE TRIGGER rt62_refuses_audit2 BEFORE INSERT ON audit_events "
    f"BEGIN SELECT RAISE(ABORT, '{MESSAGE}'); END"
)
PG_FUNCTION = (
    "CREATE FUNCTION rt62_refuses_audit2() RETURNS trigger LANGUAGE plpgsql AS "
    f"$body$ BEGIN RAISE EXCEPTION '{MESSAGE}'; END $body$"
)
PG_TRIGGER = (
    "CREATE TRIGGER rt62_refuses_audit2 BEFORE INSERT ON audit_events "
    "FOR EACH ROW EXECUTE FUNCTION rt62_refuses_audit2()"
)


@pytest.fixture(scope="module", params=KINDS)
def gw(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
       ) -> Iterator[DemoGateway]:  # fmt: skip
    home = tmp_path_factory.mktemp(f"red62-braise-{request.param}")
    with open_deployment(request.param, home, db_prefix="sluice_red62_braise") as gateway:
        if request.param == "sqlite":
            gateway.sql(SQLITE)
        else:
            gateway.sql(PG_FUNCTION)
            gateway.sql(PG_TRIGGER)
        yield gateway


def test_a_drivers_message_in_a_commands_log_line_is_escaped(gw: DemoGateway) -> None:
    env = {**os.environ, "SLUICE_HOME": str(gw.settings.home), "PYTHONPATH": str(ROOT),
           "SLUICE_DATABASE_URL": gw.settings.resolved_database_url}  # fmt: skip
    done = subprocess.run([sys.executable, "-m", "gateway.cli.main", "users", "add", "carol62",
                           "--name", "Carol"], env=env, capture_output=True, timeout=120,
                          cwd=ROOT)  # fmt: skip
    err = done.stderr.decode("utf-8", "replace")
    assert done.returncode == 1, (done.returncode, err[-2000:])
    assert "carol_saved" in err, err[-2000:]
    found = CONTROL.search(err.replace("\r\n", "\n"))
    assert found is None, ascii(err[max(found.start() - 200, 0) : found.end() + 80])
    assert "\\u001b[1A" in err, ascii(err[-2000:])
