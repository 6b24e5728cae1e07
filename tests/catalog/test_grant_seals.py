"""Grant seals across an upgrade (migration 0018): a deployment that adopted its users
and role lines at 0017 still seals its grant rows once, naming the table, and a grant
the adoption sealed verifies when read back as the broker reads it (typed columns,
SQLite's naive timestamps)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import create_engine, text

from catalog.db import make_engine
from gateway.enforcement.grants import approved_grant_rows
from gateway.wiring.row_seals import adopt_unsealed_rows
from tests.row_seals import ListSink, register_test_seals


def test_grant_rows_of_an_upgraded_deployment_are_adopted_once(tmp_path: Path) -> None:
    from alembic import command

    from catalog.db import alembic_config

    url = f"sqlite:///{tmp_path / 'old.db'}"
    config = alembic_config(url)
    command.upgrade(config, "0017_row_seals")  # users and role lines: born sealed (row 1)
    now = datetime.now(UTC)
    plain = create_engine(url)  # SQLite's foreign keys off: no entry needed for a grant row
    with plain.begin() as conn:
        conn.execute(text(
            "INSERT INTO access_requests (id, requester, dataset_id, department, fields, "
            "purpose, case_ref, justification, days, status, required_approvals, approvals, "
            "created_at, approved_at, expires_at) VALUES ('ar_old', 'alice', 'd', 'civil', "
            "'[\"phone\"]', 'p', 'c', 'j', 3, 'approved', 1, '[{\"by\": \"carl\"}]', :now, "
            ":now, :exp)"), {"now": now, "exp": now + timedelta(days=3)})  # fmt: skip
    plain.dispose()
    command.upgrade(config, "heads")
    engine = make_engine(url)
    seals = register_test_seals(url)
    with engine.connect() as conn:
        assert approved_grant_rows(conn=conn, subject="alice", dataset_id="d", purpose="p",
                                   case_ref="c") == ()  # fmt: skip
    trail = ListSink()
    assert adopt_unsealed_rows(engine, seals, trail) == {"access_requests": 1}
    assert [e["details"] for e in trail.events] == [{"access_requests": 1}]
    assert adopt_unsealed_rows(engine, seals, trail) == {}
    with engine.connect() as conn:
        rows = approved_grant_rows(conn=conn, subject="alice", dataset_id="d", purpose="p",
                                   case_ref="c")  # fmt: skip
    assert [r.id for r in rows] == ["ar_old"]
    engine.dispose()
