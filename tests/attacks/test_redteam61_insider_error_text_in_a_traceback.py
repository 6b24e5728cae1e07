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

from tests.attacks.raising_trigger import assert_no_control, refusing_gateway, users_add
from tests.gateway.demo_app import DemoGateway

MESSAGE = "\x1b[1A\x1b[2K\ruser carol saved"


gw = refusing_gateway(table="users", name="rt61_refuses", message=MESSAGE)


def test_a_drivers_message_in_a_traceback_is_escaped(gw: DemoGateway) -> None:
    code, err = users_add(gw, "carol61")
    assert code == 1, (code, err[-2000:])
    assert "Traceback" in err, err[-2000:]  # still the whole story for a bug
    assert "user carol saved" in err, err[-2000:]
    assert_no_control(err)
    assert "\\u001b[1A" in err, ascii(err[-2000:])
