"""Red team 2, as a steward: a source changed while it is deregistered (ATTACKS.md:
concurrency, lifecycle).

``PATCH /api/v1/sources/{id}`` reads the source, tests the new connection (seconds,
against a slow server), records the change and then writes it over the row it read.
A ``DELETE`` landing in between was overwritten: the tombstone's settings replaced by
the new ones, the deleted secret stored again — the deregistered source was live
again under its old id ("never reused"), and its entries could be published once more.
One of the two must lose (409), and a deregistration must stand.
"""

from __future__ import annotations

import threading
from typing import Any

from catalog.models import Source
from gateway.stewardship.registration import service
from tests.gateway.demo_app import DemoGateway

SOURCE = "civil-db"
DIBAO = "civil.dibao_recipients"


def test_a_change_racing_a_deregistration_never_revives_the_source(
    deployment: DemoGateway,
) -> None:
    gw = deployment
    with gw.services.sessions() as session:
        source = session.get(Source, SOURCE)
        assert source is not None
        settings = dict(source.settings)

    original = service._seal
    changing = threading.Event()
    deregistered = threading.Event()

    def held_seal(**kwargs: Any) -> Any:
        if kwargs.get("session") is None:
            # the change has read and tested the source, and is about to take its lock
            # and record itself (red team 25: the lock comes before the record now)
            changing.set()
            assert deregistered.wait(30)
        return original(**kwargs)

    results: dict[str, Any] = {}

    def change() -> None:
        results["patch"] = gw.client.patch(
            f"/api/v1/sources/{SOURCE}", json={"settings": settings, "secret": "new-pass"},
            headers=gw.headers("carl"),
        )  # fmt: skip

    service._seal = held_seal  # type: ignore[assignment]
    try:
        thread = threading.Thread(target=change)
        thread.start()
        assert changing.wait(30)
        delete = gw.client.delete(f"/api/v1/sources/{SOURCE}", headers=gw.headers("carl"))
        deregistered.set()
        thread.join(30)
    finally:
        service._seal = original  # type: ignore[assignment]
    assert delete.status_code == 200, delete.text
    assert results["patch"].status_code == 409, results["patch"].text
    # the deregistration stands: no source, no secret, nothing to publish again
    assert gw.client.get(f"/api/v1/sources/{SOURCE}",
                         headers=gw.headers("carl")).status_code == 404  # fmt: skip
    with gw.services.sessions() as session:
        source = session.get(Source, SOURCE)
        assert source is not None and source.secret_ciphertext is None
    publish = gw.client.post(f"/api/v1/datasets/{DIBAO}/publish", headers=gw.headers("carl"))
    assert publish.status_code == 409, publish.text
