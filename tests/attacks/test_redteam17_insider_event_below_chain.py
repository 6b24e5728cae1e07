"""Red team 17, as a database insider holding only the runtime role's rights on the
audit store (INSERT, no UPDATE or DELETE on PostgreSQL): an event below the chain.

Red team 3's rule: an event the gateway never wrote must not read as part of the trail.
The writer checks the events above the last one it wrote or checked, and verification
walks the chain from seq 1 to the head, so an event INSERTed at the head is caught. An
event INSERTed at seq 0 (or below) is neither: here an admin's ``role.assigned`` making
alice an admin, which never happened. The officer's search listed it as root's act
(``GET /api/v1/audit/events?order=asc``: first, at seq 0), every reader of the trail took
it (the row bindings' and the console passwords' look-ups by resource included), and
verification said ``ok``.

Fixed: the trail's reads take seq 1 and above only (``audit.search.EventFilter``: the
chain's seqs), and verification of the whole trail fails on any row below seq 1
(``out of chain``), which seals the gateway as other evidence does.
"""

from __future__ import annotations

import hashlib

from audit.events import prepare
from audit.records import Actor, user_admin_event
from audit.verify import verify_database
from tests.attacks.test_redteam3_insider_forged_append import (  # noqa: F401 (fixture)
    _insert_as_runtime_role,
    _make_insider_role,
    _read_trail,
    fresh,
)
from tests.gateway.demo_app import DemoGateway


def test_an_event_below_the_chain_is_neither_listed_nor_verified(
    fresh: DemoGateway,  # noqa: F811 (the fixture imported above: one deployment per test)
) -> None:
    gw = fresh
    for _ in range(2):
        _read_trail(gw)  # the chain has begun: events from seq 1
    forged = user_admin_event(type_="role.assigned", actor=Actor("root", None, ("admin",)),
                              subject="alice", details={"role": "admin"})  # fmt: skip
    prepared = prepare(forged)
    data, prev = prepared.canonical(0), "0" * 64
    chained = hashlib.sha256(bytes.fromhex(prev) + data).hexdigest()
    _make_insider_role(gw)
    _insert_as_runtime_role(gw, (0, prev, chained, data.decode(), None, *prepared.index))
    listing = gw.client.get("/api/v1/audit/events?order=asc&limit=5", headers=gw.headers("sam"))
    assert listing.status_code == 200, listing.text
    listed = [(e["seq"], e["type"], e["actor"]["sub"]) for e in listing.json()["items"]]
    assert all(seq >= 1 for seq, _type, _actor in listed), f"listed as the trail's: {listed}"
    log = gw.services.audit
    outcome = verify_database(store=log.store, witness_file=log.witness_file)
    assert (outcome.ok, outcome.first_bad_seq) == (False, 0), outcome
