"""Red team 62, as a database insider (the owner role, or write access to the SQLite
file), against the operator running a ``sluice`` command on the host.

Rule: what the database says reaches the operator's terminal escaped (red teams 59, 61),
the log lines a command writes included.

Attack: red team 61 escaped the traceback (``escaped_excepthook``); a failure a command
does turn into a line went another way. A trigger of the insider's on ``audit_events``
refuses every event with ``ESC[1A ESC[2K CR`` + "user carol saved": ``sluice users add``
ends with click's ``Error: unavailable: audit store failed: …`` quoting the driver's
message (``SluiceError.message`` keeps a carriage return), so the terminal wrote "user
carol saved" over the start of the error line (and PostgreSQL's ``CONTEXT`` came as a
line of its own).

Expected: nothing the command writes to the terminal holds a raw control but the line
breaks; the failure is still named. A real process; on the embedded default and on
PostgreSQL.
"""

from __future__ import annotations

from tests.attacks.raising_trigger import assert_no_control, refusing_gateway, users_add
from tests.gateway.demo_app import DemoGateway

MESSAGE = "\x1b[1A\x1b[2K\ruser carol saved"


gw = refusing_gateway(table="audit_events", name="rt62_refuses_audit", message=MESSAGE)


def test_a_drivers_message_in_a_commands_log_line_is_escaped(gw: DemoGateway) -> None:
    code, err = users_add(gw, "carol62")
    assert code == 1, (code, err[-2000:])
    assert "user carol saved" in err, err[-2000:]
    assert_no_control(err)
    assert "\\u001b[1A" in err, ascii(err[-2000:])
