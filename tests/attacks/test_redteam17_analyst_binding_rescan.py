"""Red team 17, as an analyst: every catalog change made each process read the trail
again from the last row binding, not from its last look.

``catalog.row_bindings.RowBindings.refresh`` reads "the bindings appended since its last
look" once per catalog generation (the identity directory, the broker), at each casbin
reload, and at each approval, last-admin check or re-identification read. It remembered
only the seq of the last *binding* it met, so each refresh asked the trail for
``type = 'catalog.row_bound' AND seq > <last binding>`` again — and ``type`` has no
index (the trail indexes ts, actor and resource only): a walk over every event appended
since the last binding, which on a quiet deployment is every query recorded since the
process started. alice moves the catalog generation whenever she likes (an access
request of hers is a catalog write), and each of her queries appends two events: each
request of hers made the next look-up in every process walk all of them again.

Fixed: a refresh remembers the head of the trail it read up to (the chain's appends
are visible in seq order), so the next one reads only what came after.
"""

from __future__ import annotations

from catalog.row_bindings import bindings_for
from tests.attacks.test_insider_grant_seals import _ask, _phone
from tests.attacks.test_insider_row_replay import _save
from tests.attacks.test_redteam3_insider_forged_append import _head
from tests.gateway.demo_app import DemoGateway

REQUESTS = "/api/v1/access-requests"


def test_a_refresh_reads_the_trail_from_its_last_look(deployment: DemoGateway) -> None:
    gw = deployment
    bindings = bindings_for(gw.services.engine)
    assert bindings is not None
    # a binding (an admin's save), then alice's traffic: queries and requests
    resp = _save(gw, "dora", gw.listed_user("dora"))
    assert resp.status_code == 200, resp.text
    for _ in range(3):
        _phone(gw)
    _ask(gw)  # a catalog write: the generation moves
    looked = _head(gw)[0]
    _phone(gw)  # the directory and the broker read the bindings since their last look
    assert bindings._seen >= looked, (
        f"the next refresh walks the trail again from seq {bindings._seen}, "
        f"not from {looked} where this one looked"
    )
    # and it still learns a binding appended after its look
    resp = _save(gw, "dora", gw.listed_user("dora"), clearance="L1")
    assert resp.status_code == 200, resp.text
    assert gw.client.get(REQUESTS, headers=gw.headers("dora")).status_code == 200
    resp = _save(gw, "dora", gw.listed_user("dora"), clearance="L2")
    assert resp.status_code == 200, resp.text
