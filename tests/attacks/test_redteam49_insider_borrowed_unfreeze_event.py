"""Red team 49, as a database insider of both the catalog and the audit databases, with
the analyst a freeze is meant to stop: a borrowed ``dataset.unfrozen``.

Rule (red team 48, ``gateway.enforcement.sources.freezes_on_record``): which entries
are frozen is the rows' word *or the trail's*: an entry whose newest ``dataset.frozen``
no genuine ``dataset.unfrozen`` followed is frozen on record, and a catalog row that no
longer verifies cannot lift that. "A forged lift does not count."

Attack: the lift is found by the trail's index columns (``type``, ``resource``) and
believed if the row found there is a gateway's event at its seq (``audit.genuine``) —
never asked whether its body says what the columns say (red team 47's borrowed
suspension event, fixed for suspensions with ``EventFilter.said_by_body``). carl
publishes a copy of the roll's table and an entry over a view of it; sam freezes
``civil.dibao_recipients``; dora's queries of both are refused. The insider sets the
two index columns of a later, genuine event (body, hash and MAC untouched) to
``dataset.unfrozen`` / ``dataset:civil.dibao_recipients`` and clears the roll's
``frozen_at``; dora queries the copy and the view again.

Expected: still refused (423): an event whose body does not say what its columns say
is no lift. On the embedded default and on PostgreSQL.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.attacks.frozen_roll import freeze_roll_with_copy_and_view, roll_frozen_at
from tests.attacks.test_insider_audit import _insider
from tests.attacks.test_redteam10_steward_frozen_entry_copy import DIBAO, QUERY, WHY, _post
from tests.gateway.demo_app import DemoGateway


@pytest.fixture
def held(deployment: DemoGateway) -> Iterator[DemoGateway]:
    """The deployment with the monitor's sweep held (as on a trail long enough that its
    window is elsewhere)."""
    monitor = deployment.services.audit.monitor
    monitor.stop()
    try:
        yield deployment
    finally:
        monitor._stop.clear()
        monitor.start()


def test_a_borrowed_unfreeze_event_does_not_lift_a_freeze_on_record(held: DemoGateway) -> None:
    gw = held
    copy, view = freeze_roll_with_copy_and_view(gw, "rt49_borrowed")
    frozen_at = roll_frozen_at(gw)
    store = gw.services.audit.store
    reader = store.connect(reader=True)
    try:
        seq, type_, resource = store.fetch_all(
            reader, "SELECT seq, type, resource FROM audit_events "
            "WHERE seq = (SELECT max(seq) FROM audit_events)", [])[0]  # fmt: skip
    finally:
        reader.close()
    _insider(gw, "UPDATE audit_events SET type = 'dataset.unfrozen', "
                 f"resource = 'dataset:{DIBAO}' WHERE seq = {int(seq)}")  # fmt: skip
    gw.sql("UPDATE datasets SET frozen_at = NULL WHERE id = :i", i=DIBAO)
    try:
        served = {e: gw.query("dora", e, QUERY).status_code for e in (copy, view)}
        read = {e: status for e, status in served.items() if status != 423}
        assert not read, f"the frozen roll served again after a borrowed lift: {read}"
    finally:
        gw.sql("UPDATE datasets SET frozen_at = :f WHERE id = :i", f=frozen_at, i=DIBAO)
        _insider(gw, f"UPDATE audit_events SET type = '{type_}', resource = "
                     + ("NULL" if resource is None else f"'{resource}'")
                     + f" WHERE seq = {int(seq)}")  # fmt: skip
        assert _post(gw, "root", f"/datasets/{DIBAO}/unfreeze", WHY).status_code == 200
