"""As an officer (and the analyst a freeze is meant to stop): an entry over the frozen
entry's object, published *before* the freeze, kept serving the frozen rows.

Red team 10 left it open: a freeze is set on one entry, publishing another entry over
the same object is refused while it stands, but carl's ``civil.dibao_copy`` — the same
table, published the week before — still answered dora (200) after sam froze
``civil.dibao_recipients`` in an emergency: the officer had to find and freeze every
copy, and a copy the officer did not know of kept the data flowing.

Expected: a freeze stops the data, whichever entry reads it: the copy is refused (423,
``query.denied`` on record naming the frozen entry) while the freeze stands, and
answers again once an admin lifted it.
"""

from __future__ import annotations

from typing import Any

from audit.search import EventFilter, list_events
from tests.attacks.test_redteam10_steward_frozen_entry_copy import (
    DIBAO,
    QUERY,
    WHY,
    _copy_published,
    _post,
)
from tests.gateway.demo_app import DemoGateway


def _denials(gw: DemoGateway, dataset: str) -> list[dict[str, Any]]:
    page = list_events(store=gw.services.audit.store,
                       filters=EventFilter(type="query.denied", dataset=dataset),
                       limit=50)  # fmt: skip
    return list(page["items"])


def test_a_copy_published_before_the_freeze_is_stopped_with_it(deployment: DemoGateway) -> None:
    gw = deployment
    copy_id = "civil.dibao_copy_before"
    published = _copy_published(gw, "civil-db", copy_id)
    assert published.status_code == 200, published.text
    assert gw.query("dora", copy_id, QUERY).status_code == 200
    frozen = _post(gw, "sam", f"/datasets/{DIBAO}/freeze", WHY)
    assert frozen.status_code == 200, frozen.text
    try:
        read = gw.query("dora", copy_id, QUERY)
        assert read.status_code == 423, read.text
        assert DIBAO in read.json()["message"], read.text
        assert any(DIBAO in str(e["details"]) for e in _denials(gw, copy_id))
    finally:
        lifted = _post(gw, "root", f"/datasets/{DIBAO}/unfreeze", WHY)
        assert lifted.status_code == 200, lifted.text
    assert gw.query("dora", copy_id, QUERY).status_code == 200
