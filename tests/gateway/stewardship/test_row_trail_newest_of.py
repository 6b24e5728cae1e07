"""``AuditBindingTrail.newest_of``: the newest binding of many keys in one read, the
same answer ``newest`` gives key by key — bound, never bound, and forged (an insider's
edited binding event) — and loading the role lines reads the trail once, not once per
line (a new gateway's lines made one reader's connection each: ``RowBindings.prefetch``).
On the embedded default and PostgreSQL."""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest

from catalog.row_bindings import RowBindings, rule_key
from gateway.stewardship.row_trail import FORGED, AuditBindingTrail
from policies.sealed_rules import SealedAdapter, SealedRule
from tests.attacks.deployments import KINDS, open_deployment
from tests.attacks.test_insider_audit import _insider
from tests.gateway.demo_app import DemoGateway


@pytest.fixture(scope="module", params=KINDS)
def gw(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
       ) -> Iterator[DemoGateway]:  # fmt: skip
    home: Path = tmp_path_factory.mktemp(f"newest-of-{request.param}")
    with open_deployment(request.param, home, db_prefix="sluice_newest_of") as deployed:
        yield deployed


def _rule_keys(gw: DemoGateway) -> list[str]:
    with gw.services.sessions() as session:
        return [rule_key(line) for line in session.query(SealedRule).all()]


def test_many_keys_at_once_answer_as_one_at_a_time(gw: DemoGateway) -> None:
    trail = AuditBindingTrail(gw.services.audit)
    suspended = gw.client.post("/api/v1/users/arthur/suspend", headers=gw.headers("sam"),
                               json={"reason": "a binding of users/arthur"})  # fmt: skip
    assert suspended.status_code == 200, suspended.text[:300]
    keys = [*_rule_keys(gw), "users/arthur", "users/dora", "casbin_rule/never, bound"]
    bound = _newest_binding(gw)
    assert bound > 0
    _insider(gw, "UPDATE audit_events SET body = replace(body, 'row_bound', 'row_bound ') "
                 f"WHERE seq = {bound}")  # fmt: skip
    one_by_one = {key: trail.newest(key) for key in keys}
    assert FORGED in {state for _seq, state in one_by_one.values()}  # the edited one
    assert one_by_one["casbin_rule/never, bound"] == (0, None)
    at_once = trail.newest_of(keys)
    assert {k: at_once.get(k, (0, None)) for k in keys} == one_by_one


def _newest_binding(gw: DemoGateway) -> int:
    from tests.attacks.test_insider_audit import _scalar

    return int(_scalar(gw, "SELECT max(seq) FROM audit_events "
                           "WHERE type = 'catalog.row_bound'") or 0)  # fmt: skip


class _Counting:
    """A trail that counts its reads."""

    def __init__(self, inner: AuditBindingTrail) -> None:
        self.inner, self.newest_reads, self.batch_reads = inner, 0, 0

    def head(self) -> int:
        return self.inner.head()

    def newest(self, key: str) -> tuple[int, str | None]:
        self.newest_reads += 1
        return self.inner.newest(key)

    def newest_of(self, keys: Sequence[str]) -> dict[str, tuple[int, str | None]]:
        self.batch_reads += 1
        return self.inner.newest_of(keys)

    def since(self, seq: int) -> Iterator[tuple[int, str, str]]:
        return self.inner.since(seq)


def test_loading_the_role_lines_reads_the_trail_once(
    gw: DemoGateway, monkeypatch: pytest.MonkeyPatch
) -> None:
    from catalog import row_bindings

    counting = _Counting(AuditBindingTrail(gw.services.audit))
    fresh = RowBindings(counting)  # a new process's view: no key known yet
    monkeypatch.setattr(row_bindings, "bindings_for", lambda _bind: fresh)
    adapter = SealedAdapter(gw.services.engine)
    model = gw.services.authorizer._enforcer.get_model()
    model.clear_policy()
    adapter.load_policy(model)
    assert len(_rule_keys(gw)) > 1
    assert (counting.batch_reads, counting.newest_reads) == (1, 0)


def test_reads_keep_one_connection_and_survive_losing_it(
    gw: DemoGateway, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Binding reads reuse one reader connection (each opened its own: a PostgreSQL
    server process per read); one that died while idle is replaced, not an error."""
    store = gw.services.audit.store
    opened: list[object] = []
    connect = store.connect
    mine = threading.get_ident()  # the gateway's own threads (monitor, writer) share the store

    def counted(*, reader: bool = False) -> object:
        conn = connect(reader=reader)
        if threading.get_ident() == mine:
            opened.append(conn)
        return conn

    monkeypatch.setattr(store, "connect", counted)
    trail = AuditBindingTrail(gw.services.audit)
    head = trail.head()
    assert [trail.head() for _ in range(5)] == [head] * 5
    assert len(opened) == 1
    opened[0].close()  # type: ignore[attr-defined]  # gone while idle
    assert trail.head() == head
    assert len(opened) == 2
