"""Red team 61, as a database insider (the owner role, or write access to the SQLite
file), against the operator running any ``sluice`` command on the host.

Rule: a name read from the checked database reaches the operator's terminal escaped
(red team 59: the doctor's details, the catalog commands); a failure the operator can act
on is one line, not a traceback (red team 21).

Attack: a row added to ``alembic_version`` (``varchar(32)``) whose text is
``ESC[1A ESC[2K CR`` + "pending   none": a cursor up, a line erased, a carriage return
and the words ``sluice db current`` prints when the schema is current. Every command
migrates first (``catalog.db.migrate``): alembic refused the unknown revision and the
command died with a traceback whose last line quoted the row raw, so the terminal ran
the sequence — ``sluice users list`` as ``sluice db current`` (``sluice doctor`` already
shows it escaped, ``FAIL schema``). A revision this code does not know (a database
migrated by a newer release, the code rolled back) gave the same traceback.

Expected: one line naming the revision with its controls escaped, exit status 1, no
traceback; on the embedded default and on PostgreSQL.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.attacks.deployments import KINDS, open_deployment
from tests.attacks.redteam27 import run_cli
from tests.attacks.test_redteam24_steward_terminal_text import CONTROL
from tests.gateway.demo_app import DemoGateway

FORGED = "\x1b[1A\x1b[2K\rpending   none"


@pytest.fixture(scope="module", params=KINDS)
def gw(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
       ) -> Iterator[DemoGateway]:  # fmt: skip
    home = tmp_path_factory.mktemp(f"red61-schema-{request.param}")
    with open_deployment(request.param, home, db_prefix="sluice_red61_schema") as gateway:
        gateway.sql("INSERT INTO alembic_version (version_num) VALUES (:v)", v=FORGED)
        yield gateway


@pytest.mark.parametrize("args", [("users", "list"), ("db", "current"), ("db", "migrate")])
def test_a_forged_revision_is_one_escaped_line(
    gw: DemoGateway, monkeypatch: pytest.MonkeyPatch, args: tuple[str, ...]
) -> None:
    result = run_cli(gw, monkeypatch, *args)
    assert result.exit_code == 1, (result.exit_code, result.output, result.exception)
    assert isinstance(result.exception, SystemExit), repr(result.exception)  # no traceback
    assert not CONTROL.search(result.output), ascii(result.output)
    assert "\\u001b[1A" in result.output, ascii(result.output)  # named, escaped
