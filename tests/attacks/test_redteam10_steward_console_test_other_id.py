"""Red team 10, as a steward: the console's "test connection" under another source's id.

Rule: a system one department registered is never another department's source, and
the console's test button runs the very checks a registration runs
(``registration.check_and_connect``), so a steward cannot use the gateway to reach
(or try credentials against) another department's system.

Attack: the ownership check compares the target with every *other* source
(``Source.id != source_id``), and a registration first refuses an id already taken —
but the test button took the form's id as it came. fiona tested civil's database file
under the id ``civil-db`` (civil's own source): the one source that owns the system
was left out of the comparison, and the gateway connected to it ("ok"). With a
server database, the same form is a password oracle against another department's
server, through the gateway's network position.

Expected: the test refuses an id already taken, as the registration does, before it
connects; under a fresh id the ownership refusal stands.
"""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy import select

from catalog.models import Source
from tests.attacks.console_sign_in import console_sign_in
from tests.gateway.demo_app import DemoGateway


def _console(gw: DemoGateway, subject: str) -> tuple[TestClient, str]:
    return console_sign_in(gw, subject)


def _civil_file(gw: DemoGateway) -> str:
    with gw.services.sessions() as session:
        source = session.scalars(select(Source).where(Source.id == "civil-db")).one()
        url = str(source.settings["url"])
    return url.removeprefix("sqlite:///")


def test_the_connection_test_refuses_another_departments_source_id(
    deployment: DemoGateway,
) -> None:
    gw = deployment
    client, csrf = _console(gw, "fiona")
    path = _civil_file(gw)
    form = {"csrf_token": csrf, "kind": "sqlite", "path": path, "display_name": "probe"}
    fresh = client.post("/console/sources/test", data={**form, "id": "fin-probe"})
    assert "already registered by department" in fresh.text  # the ownership check
    taken = client.post("/console/sources/test", data={**form, "id": "civil-db"})
    assert "already exists" in taken.text or "already registered" in taken.text, taken.text
