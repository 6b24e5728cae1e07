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

from tests.attacks.raising_trigger import assert_no_control, refusing_gateway, users_add
from tests.gateway.demo_app import DemoGateway

MESSAGE = "\x1b[1A\x1b[2K\x1b]0;carol_saved\x07"


gw = refusing_gateway(table="audit_events", name="rt62_refuses_audit2", message=MESSAGE)


def test_a_drivers_message_in_a_commands_log_line_is_escaped(gw: DemoGateway) -> None:
    code, err = users_add(gw, "carol62")
    assert code == 1, (code, err[-2000:])
    assert "carol_saved" in err, err[-2000:]
    assert_no_control(err)
    assert "\\u001b[1A" in err, ascii(err[-2000:])
