"""Red team 62, as a database insider (the owner role, or write access to the SQLite
file), against the operator watching ``sluice serve`` on a terminal.

Rule: what the database holds reaches the operator's terminal escaped (red teams 59,
61); a failure's log line keeps only the head of its message (``log_exceptions``: no
values in the log), and the head is text an operator reads.

Attack: red team 61 escaped the traceback a ``sluice`` command dies with; the server's
own log of an unforeseen failure (``catalog_db_error``, ``unhandled_error``, rendered
by the development renderer, ``SLUICE_ENV``'s default) goes through
``log_exceptions.render``, whose head cuts digits and non-ASCII runs but keeps the
ASCII controls. A trigger of the insider's refuses every new user with ``ESC[1A
ESC[2K`` and words of their choosing: an administrator's ``PUT
/api/v1/admin/users/carol62`` is a 500, and the log line written to the operator's
terminal carried the escape sequence raw — the line above it erased and rewritten.

Expected: the log line names the failure with the controls escaped (``\\u001b``) or
gone. On the embedded default and on PostgreSQL.
"""

from __future__ import annotations

import pytest

from tests.attacks.raising_trigger import assert_no_control, refusing_gateway
from tests.gateway.demo_app import DemoGateway

MESSAGE = "\x1b[1A\x1b[2K user root signed out"


gw = refusing_gateway(table="users", name="rt62_refuses", message=MESSAGE)


def test_a_drivers_message_in_the_servers_log_is_escaped(
    gw: DemoGateway, capsys: pytest.CaptureFixture[str]
) -> None:
    capsys.readouterr()
    resp = gw.client.put("/api/v1/admin/users/carol62", headers=gw.headers("root"),
                         json={"display_name": "Carol", "clearance": "L1"})  # fmt: skip
    assert resp.status_code == 500, resp.text[:300]
    err = capsys.readouterr().err
    assert "incident=" in err, err[-2000:]  # the failure's line (catalog_db_error)
    assert "user root signed out" in err, err[-2000:]  # the failure is still named
    assert_no_control(err)
