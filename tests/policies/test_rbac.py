"""casbin: each role allowed and refused, departments as domains, no restart needed."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.orm import Session

from catalog.db import make_engine, migrate
from catalog.errors import Conflict, Forbidden, Unprocessable
from gateway.wiring.row_seals import adopt_unsealed_rows
from policies.rbac import Authorizer, default_policy_lines, is_reserved_subject
from policies.sealed_rules import SealedRule
from tests.conftest import drop_pg_database_later
from tests.migrated import copy_migrated_sqlite, create_migrated_pg_database
from tests.row_seals import ListSink, register_test_seals


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'rbac.db'}"
        copy_migrated_sqlite(tmp_path / "rbac.db")  # the migrations once per process
    else:
        name, url = create_migrated_pg_database()  # the migrations once per process
        request.addfinalizer(lambda: drop_pg_database_later(name))
    migrate(url)
    register_test_seals(url)
    return url


@pytest.fixture
def authz(db_url: str) -> Authorizer:
    a = Authorizer.from_url(db_url, refresh_s=0)
    a.seed_defaults()
    a.assign(subject="alice", role="analyst", domain="*")
    a.assign(subject="fiona", role="steward", domain="finance")
    a.assign(subject="carl", role="steward", domain="civil")
    a.assign(subject="sam", role="security_officer", domain="*")
    a.assign(subject="root", role="admin", domain="*")
    return a


CASES = [
    # subject, domain, action, allowed
    ("alice", "civil", "catalog:search", True),
    ("alice", "finance", "dataset:query", True),
    ("alice", "civil", "access:request", True),
    ("alice", "civil", "compare:run", True),
    ("alice", "civil", "source:register", False),
    ("alice", "civil", "access:approve", False),
    ("alice", "*", "audit:read", False),
    ("fiona", "finance", "source:register", True),
    ("fiona", "finance", "source:edit", True),
    ("fiona", "finance", "dataset:edit", True),
    ("fiona", "finance", "dataset:publish", True),
    ("fiona", "finance", "access:approve", True),
    ("fiona", "civil", "source:register", False),
    ("fiona", "civil", "dataset:edit", False),
    ("fiona", "civil", "access:approve", False),
    ("fiona", "finance", "dataset:query", False),
    ("fiona", "*", "audit:read", False),
    ("carl", "civil", "dataset:publish", True),
    ("carl", "finance", "dataset:publish", False),
    ("sam", "*", "audit:read", True),
    ("sam", "*", "audit:verify", True),
    ("sam", "*", "audit:export", True),
    ("sam", "*", "alerts:read", True),
    ("sam", "civil", "dataset:query", False),
    ("sam", "*", "dataset:query", False),
    ("sam", "*", "users:manage", False),
    ("root", "*", "users:manage", True),
    ("root", "*", "keys:manage", True),
    ("root", "*", "policy:manage", True),
    ("root", "*", "audit:export", True),
    ("root", "*", "alerts:read", True),
    ("root", "civil", "dataset:query", False),
    ("root", "finance", "source:register", False),
    ("nobody", "civil", "catalog:search", False),
    ("alice", "civil", "no:such-action", False),
]


def test_role_table(authz: Authorizer) -> None:
    wrong = [c for c in CASES if authz.allowed(subject=c[0], domain=c[1], action=c[2]) != c[3]]
    assert wrong == []


def test_check_raises_forbidden_with_a_clear_message(authz: Authorizer) -> None:
    authz.check(subject="fiona", domain="finance", action="source:register")
    with pytest.raises(Forbidden) as info:
        authz.check(subject="fiona", domain="civil", action="source:register")
    assert "fiona" in info.value.message and "civil" in info.value.message
    assert info.value.details["action"] == "source:register"


def test_security_officer_never_queries_even_with_a_smuggled_analyst_role(
    authz: Authorizer, db_url: str
) -> None:
    engine = make_engine(db_url)
    with Session(engine) as session:  # bypass assign() (and its checks), sealed as a gateway would
        session.add(SealedRule(ptype="g", v0="sam", v1="role:analyst", v2="*"))
        session.commit()
    assert ("analyst", "*") in authz.roles_of("sam")
    assert authz.allowed(subject="sam", domain="civil", action="catalog:search")
    with pytest.raises(Forbidden):
        authz.check(subject="sam", domain="civil", action="dataset:query")
    engine.dispose()


def test_assign_refuses_analyst_for_a_security_officer(authz: Authorizer) -> None:
    with pytest.raises(Conflict):
        authz.assign(subject="sam", role="analyst", domain="*")
    with pytest.raises(Conflict):
        authz.assign(subject="alice", role="security_officer", domain="*")


def test_assign_all_adds_what_is_missing_under_the_same_rules(
    db_url: str, authz: Authorizer
) -> None:
    """The demo's batch: held lines are left as they are, the missing ones written once
    (sealed: another process loads them), and what ``assign`` refuses — separation of
    duties within the batch too, a bad domain — refuses the whole batch."""
    batch = [("alice", "analyst", "*"), ("bob", "analyst", "*"), ("bob", "analyst", "*"),
             ("fiona", "steward", "civil")]  # fmt: skip
    assert authz.assign_all(batch) == 2
    assert authz.assign_all(batch) == 0
    other = Authorizer.from_url(db_url, refresh_s=0)  # another replica's view
    assert other.roles_of("bob") == [("analyst", "*")]
    assert other.roles_of("fiona") == [("steward", "civil"), ("steward", "finance")]
    with pytest.raises(Conflict):
        authz.assign_all([("eve", "analyst", "*"), ("eve", "security_officer", "*")])
    with pytest.raises(Unprocessable):
        authz.assign_all([("eve", "steward", "*")])
    assert other.roles_of("eve") == []


def test_assign_validates_roles_and_domains(authz: Authorizer) -> None:
    with pytest.raises(Unprocessable):
        authz.assign(subject="x", role="steward", domain="*")
    with pytest.raises(Unprocessable):
        authz.assign(subject="x", role="analyst", domain="civil")
    with pytest.raises(Unprocessable):
        authz.assign(subject="x", role="superuser", domain="*")


def test_change_by_another_process_takes_effect_on_next_request(
    db_url: str, authz: Authorizer
) -> None:
    other = Authorizer.from_url(db_url, refresh_s=0)  # another replica's view
    assert not authz.allowed(subject="bob", domain="civil", action="dataset:query")
    other.assign(subject="bob", role="analyst", domain="*")
    assert authz.allowed(subject="bob", domain="civil", action="dataset:query")
    other.unassign(subject="alice", role="analyst", domain="*")
    with pytest.raises(Forbidden):
        authz.check(subject="alice", domain="civil", action="dataset:query")
    assert authz.roles_of("alice") == []


def test_refresh_interval_with_an_injected_clock(db_url: str, authz: Authorizer) -> None:
    now = [100.0]
    cached = Authorizer.from_url(db_url, refresh_s=1.0, clock=lambda: now[0])
    assert not cached.allowed(subject="dora", domain="civil", action="dataset:query")
    authz.assign(subject="dora", role="analyst", domain="*")
    now[0] += 0.5
    assert not cached.allowed(subject="dora", domain="civil", action="dataset:query")
    now[0] += 0.6
    assert cached.allowed(subject="dora", domain="civil", action="dataset:query")


def test_direct_table_edits_are_noticed(db_url: str, authz: Authorizer) -> None:
    engine = make_engine(db_url)
    with engine.begin() as conn:
        conn.execute(text("DELETE FROM casbin_rule WHERE ptype = 'g' AND v0 = 'fiona'"))
    engine.dispose()
    assert not authz.allowed(subject="fiona", domain="finance", action="source:register")


def test_seed_defaults_is_idempotent(authz: Authorizer) -> None:
    assert authz.seed_defaults() == 0
    assert len(default_policy_lines()) >= 20


def test_roles_of(authz: Authorizer) -> None:
    authz.assign(subject="fiona", role="steward", domain="audit")
    assert authz.roles_of("fiona") == [("steward", "audit"), ("steward", "finance")]


@pytest.mark.parametrize("role", ["admin", "analyst", "steward", "security_officer"])
def test_a_subject_spelled_like_a_role_holds_nothing(
    authz: Authorizer, db_url: str, role: str
) -> None:
    """casbin links every name to itself: were roles not namespaced, a user called
    ``admin`` would be the admin role. Even a rule row written by hand for such a
    subject gives nothing (the subject is reserved)."""
    for action in ("users:manage", "dataset:query", "audit:read", "source:register"):
        assert not authz.allowed(subject=role, domain="civil", action=action)
        assert not authz.allowed(subject=f"role:{role}", domain="civil", action=action)
    engine = make_engine(db_url)
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO casbin_rule (ptype, v0, v1, v2) "
                          "VALUES ('g', 'role:x', 'role:admin', '*')"))  # fmt: skip
    engine.dispose()
    assert not authz.allowed(subject="role:x", domain="*", action="users:manage")
    with pytest.raises(Unprocessable):
        authz.assign(subject=role.upper(), role="analyst", domain="*")


@pytest.mark.parametrize(
    ("subject", "reserved"),
    [("admin", True), ("Security_Officer", True), ("ANALYST", True), (" steward ", True),
     ("*", True), ("role:anything", True), ("ROLE:x", True), ("", True),
     ("alice", False), ("administrator", False), ("analyst2", False)],
)  # fmt: skip
def test_reserved_subjects(subject: str, reserved: bool) -> None:
    assert is_reserved_subject(subject) is reserved


def test_migration_moves_existing_roles_into_their_namespace(tmp_path: Path) -> None:
    """A database from before migration 0008 keeps its assignments, namespaced."""
    from alembic import command

    from catalog.db import alembic_config

    url = f"sqlite:///{tmp_path / 'old.db'}"
    config = alembic_config(url)
    command.upgrade(config, "0007_catalog_generation_guard")
    command.upgrade(config, "0003_casbin")
    engine = make_engine(url)
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO casbin_rule (ptype, v0, v1, v2, v3) VALUES "
                          "('p', 'admin', '*', 'users:manage', 'allow'), "
                          "('g', 'root', 'admin', '*', NULL), "
                          "('g', 'fiona', 'steward', 'finance', NULL)"))  # fmt: skip
    command.upgrade(config, "heads")
    with engine.connect() as conn:
        rows = set(conn.execute(text("SELECT ptype, v0, v1 FROM casbin_rule")).all())
    assert rows == {("p", "role:admin", "*"), ("g", "root", "role:admin"),
                    ("g", "fiona", "role:steward")}  # fmt: skip
    # lines from before seals (0017) govern once a gateway has adopted them, on record
    trail = ListSink()
    assert adopt_unsealed_rows(engine, register_test_seals(url), trail) == {"users": 0, "rules": 3}
    assert [e["type"] for e in trail.events] == ["catalog.rows_sealed"]
    engine.dispose()
    authz = Authorizer.from_url(url, refresh_s=0)
    assert authz.allowed(subject="root", domain="*", action="users:manage")
    assert authz.roles_of("fiona") == [("steward", "finance")]
