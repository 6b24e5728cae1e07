"""Red team 62's left row 2, closed by the lead (stop 43): a database insider's line
break in a ``sluice`` command's error line, against the operator reading it.

Rule: what the database says reaches the operator's terminal escaped (red teams 59,
61, 62), and a command's failure is one line naming it.

Attack: ``LazyGroup.invoke`` escaped every control of a ``ClickException``'s message but
the line breaks, the lines a command means to print. No command means any: the only
line breaks in such a message are a driver's, quoted (PostgreSQL's ``CONTEXT``, or an
insider's trigger message). A trigger refusing every audit event with a message of a
line break + "user carol62 saved; nothing failed" made ``sluice users add`` end with
``Error: unavailable: audit store failed: …`` and, under it, a line of the insider's
own words, looking like the command's.

Expected: no line the command writes starts with the insider's words; the failure is
still named. A real process; on the embedded default and on PostgreSQL.
"""

from __future__ import annotations

from tests.attacks.raising_trigger import refusing_gateway, users_add
from tests.gateway.demo_app import DemoGateway

FORGED = "user carol62 saved; nothing failed"


gw = refusing_gateway(table="audit_events", name="lead43_refuses_audit", message=f"\n{FORGED}")


def test_a_drivers_line_break_in_a_commands_error_is_escaped(gw: DemoGateway) -> None:
    code, err = users_add(gw, "carol62")
    assert code == 1, (code, err[-2000:])
    assert FORGED in err, err[-2000:]
    forged = [line for line in err.splitlines() if line.lstrip().startswith(FORGED)]
    assert not forged, ascii(err[-2000:])
    assert any(line.startswith("Error:") and FORGED in line for line in err.splitlines()), err
