"""Red team 17, as a database insider holding only the runtime role's rights on the
audit store (INSERT, no UPDATE or DELETE on PostgreSQL): forged row bindings.

Row bindings (``catalog.row_bindings``, 8d18f8a) let a sealed user row, role line or
grant govern only while it is the newest state the trail names for it
(``catalog.row_bound``). The module says the trail is "chained, MAC'd [...] so the
insider can neither add a binding nor drop a newer one undetected". The chain and the
MAC are checked by the writer and by verification; the binding reader
(``gateway.stewardship.row_trail.AuditBindingTrail``) read the rows as they stood:

- a ``catalog.row_bound`` row INSERTed at seq 0 or below lies outside the chain (the
  writer and ``sluice audit verify`` check seq 1 to the head, and say ``ok``), yet it
  is the newest binding of a row no change through the gateway ever bound (every demo
  or upgraded account until it is next changed): dora, never changed, was refused
  (403 ``account_unsealed``) by the first process that looked her up after it —
  undetected, for any account, the last admin included;
- the same row with a body that is not JSON made every look-up of fiona a 500, and the
  admin's whole save that repairs an account (``PUT /admin/users/fiona``) a 500 too:
  no way back through the gateway;
- a binding INSERTed at the head (no MAC) naming the old state of arthur's row,
  written back after an admin disabled him: the replay governed again (200) in a
  process reading the trail before the writer's next append sealed the trail.

Fixed: the binding reader believes only an event a gateway wrote at that seq: seq 1
or more, its hash that of its predecessor's link and its body, the body naming that
seq, and its MAC (``audit.signing.EventMac``) valid. Others are not bindings.
"""

from __future__ import annotations

import hashlib

from audit.event_types import EventType
from audit.events import prepare
from audit.records import Actor, key_event
from catalog.row_bindings import digest
from gateway.stewardship.row_trail import install_row_bindings
from tests.attacks.test_insider_row_replay import _rows, _save
from tests.attacks.test_redteam3_insider_forged_append import (  # noqa: F401 (fixture)
    _head,
    _insert_as_runtime_role,
    _make_insider_role,
    _quiet_head,
    fresh,
)
from tests.gateway.demo_app import DemoGateway

REQUESTS = "/api/v1/access-requests"
SYSTEM = Actor("gateway", None, ("system",))
ZERO = "0" * 64


def _forge(gw: DemoGateway, key: str, state: str, *, seq: int, prev: str = ZERO,
           body: str | None = None) -> None:  # fmt: skip
    """INSERT a ``catalog.row_bound`` row as the runtime role may: chained onto ``prev``,
    with no MAC (the insider holds no key)."""
    event = key_event(type_=EventType.ROW_BOUND, actor=SYSTEM, resource=f"row:{key}",
                      details={"digest": state})  # fmt: skip
    prepared = prepare(event)
    data = prepared.canonical(seq)
    chained = hashlib.sha256(bytes.fromhex(prev) + data).hexdigest()
    _make_insider_role(gw)
    _insert_as_runtime_role(gw, (seq, prev, chained, body or data.decode(), None,
                                 *prepared.index))  # fmt: skip


def _restart(gw: DemoGateway) -> None:
    """What a process started now (a restart, a replica scaled up) keeps: nothing."""
    install_row_bindings(gw.settings.resolved_database_url, gw.services.audit)


def test_a_binding_forged_below_the_chain_does_not_lock_an_account_out(
    deployment: DemoGateway,
) -> None:
    gw = deployment
    _forge(gw, "users/dora", ZERO, seq=0)
    _restart(gw)
    resp = gw.client.get(REQUESTS, headers=gw.headers("dora"))
    assert resp.status_code == 200, f"a forged binding refused dora: {resp.text}"
    assert gw.listed_user("dora")["sealed"] is True


def test_a_garbled_binding_below_the_chain_does_not_break_an_account(
    deployment: DemoGateway,
) -> None:
    gw = deployment
    _forge(gw, "users/fiona", ZERO, seq=-1, body="{not json")
    _restart(gw)
    resp = gw.client.get(REQUESTS, headers=gw.headers("fiona"))
    assert resp.status_code == 200, f"a garbled binding broke fiona: {resp.status_code}"
    resp = _save(gw, "fiona", gw.listed_user("fiona"))
    assert resp.status_code == 200, f"the admin's save failed: {resp.status_code}"


def test_a_binding_forged_at_the_head_does_not_make_a_replay_current(
    fresh: DemoGateway,  # noqa: F811 (the fixture imported above: one deployment per test)
) -> None:
    gw = fresh
    before = gw.listed_user("arthur")
    assert gw.client.get(REQUESTS, headers=gw.headers("arthur")).status_code == 200
    saved = _rows(gw, "SELECT * FROM users WHERE subject = 'arthur'")[0]
    resp = _save(gw, "arthur", before, status="disabled")
    assert resp.status_code == 200, resp.text
    assert gw.client.get(REQUESTS, headers=gw.headers("arthur")).status_code == 403
    # the row from before the disable written back, and a binding naming it forged
    gw.sql("UPDATE users SET status = :status, seal = :seal WHERE subject = 'arthur'",
           status=saved["status"], seal=saved["seal"])  # fmt: skip
    seq, head = _quiet_head(gw)
    _forge(gw, "users/arthur", digest("users/arthur", saved["seal"]), seq=seq + 1, prev=head)
    assert _head(gw)[0] == seq + 1
    _restart(gw)
    resp = gw.client.get(REQUESTS, headers=gw.headers("arthur"))
    assert resp.status_code != 200, "the replay governs again under a forged binding"
