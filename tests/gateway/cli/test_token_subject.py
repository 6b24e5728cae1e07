"""``sluice token`` reads its user with sqlite3 on the embedded catalog and through the
ORM elsewhere (``gateway.cli.token_subject``): both readers must see the same row."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import text

from catalog.db import make_engine, make_session_factory
from catalog.models import Department, User
from gateway.cli.token_subject import Lookup, _from_sqlite, lookup_subject, lookup_with_orm
from gateway.core.settings import load_settings
from tests.migrated import copy_migrated_sqlite
from tests.row_seals import register_test_seals


@pytest.fixture()
def catalog(tmp_path: Path) -> str:
    path = tmp_path / "sluice.db"
    copy_migrated_sqlite(path)
    url = f"sqlite:///{path}"
    register_test_seals(url)
    engine = make_engine(url)
    with make_session_factory(engine)() as session:
        session.add(Department(code="civil", name_zh="民政", name_en="Civil affairs"))
        session.add_all([
            User(subject="alice", display_name="Alice", department="civil", clearance="L3",
                 roles=["analyst", "steward"], jurisdiction=["4301", "4302"]),
            User(subject="zoe", display_name="Zoé 张", clearance="L1"),
            User(subject="bob", display_name="Bob", clearance="L2", roles=["analyst"]),
            User(subject="nul", display_name="Null", clearance="L1"),
        ])  # fmt: skip
        session.commit()
    with engine.begin() as conn:  # JSON nulls, as a row written with None holds
        conn.execute(text("UPDATE users SET roles = 'null', jurisdiction = 'null' "
                          "WHERE subject = 'nul'"))  # fmt: skip
    engine.dispose()
    return str(path)


@pytest.mark.parametrize("subject", ["alice", "zoe", "bob", "nul", "mallory", "ALICE"])
def test_sqlite3_and_the_orm_read_the_same_subject(catalog: str, subject: str) -> None:
    fast = _from_sqlite(catalog, subject)
    assert fast == lookup_with_orm(f"sqlite:///{catalog}", subject)
    if subject in {"mallory", "ALICE"}:
        assert fast == Lookup(None, ["alice", "bob", "nul", "zoe"])
    else:
        assert fast.found is not None and fast.found.subject == subject


def test_alice_as_stored(catalog: str) -> None:
    found = _from_sqlite(catalog, "alice").found
    assert found is not None
    assert (found.department, found.clearance, found.roles, found.jurisdiction) == (
        "civil", "L3", ["analyst", "steward"], ["4301", "4302"])  # fmt: skip


def test_a_new_home_is_migrated_first(tmp_path: Path) -> None:
    settings = load_settings(home=tmp_path / "home", database_url=None)
    assert lookup_subject(settings, "alice") == Lookup(None, [])
    assert (tmp_path / "home" / "sluice.db").is_file()
