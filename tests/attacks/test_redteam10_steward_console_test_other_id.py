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

import re

from fastapi.testclient import TestClient
from sqlalchemy import select

from catalog.models import Source
from gateway.web.console.passwords import set_demo_passwords
from gateway.web.console.runtime import Console
from tests.gateway.demo_app import DemoGateway

_FIELD = re.compile(r'name="csrf_token" value="([^"]+)"')
_META = re.compile(r'<meta name="csrf-token" content="([^"]+)"')


def _console(gw: DemoGateway, subject: str) -> tuple[TestClient, str]:
    console: Console = gw.client.app.state.console
    password = set_demo_passwords(console.accounts, [subject])[subject]
    client = TestClient(gw.client.app, follow_redirects=False)
    nonce = _FIELD.search(client.get("/console/sign-in").text)
    assert nonce is not None
    answer = client.post("/console/sign-in", data={
        "csrf_token": nonce.group(1), "username": subject, "password": password})  # fmt: skip
    assert answer.status_code == 303, answer.text[:300]
    csrf = _META.search(client.get("/console").text)
    assert csrf is not None
    return client, csrf.group(1)


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
