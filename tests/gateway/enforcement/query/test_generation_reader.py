"""The generation reader: every read is a read of the database (a change counts on the
very next one), on at most ``size`` connections of its own that a failure throws away."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import psycopg
import pytest
from sqlalchemy import Engine

from catalog.db import make_engine
from catalog.errors import Unavailable
from gateway.enforcement.query.generation import GenerationReader, cursor_select, libpq_select
from tests.conftest import PG_ADMIN

_TABLE = "CREATE TABLE catalog_generation (id INTEGER PRIMARY KEY, value BIGINT)"


@contextmanager
def reading(url: str, **options: Any) -> Iterator[tuple[Engine, GenerationReader]]:
    """A catalog holding generation 7 at ``url`` and a reader of it, both closed after."""
    engine = make_engine(url)
    with engine.begin() as conn:
        conn.exec_driver_sql(_TABLE)
        conn.exec_driver_sql("INSERT INTO catalog_generation VALUES (1, 7)")
    reader = GenerationReader(engine, **options)
    try:
        yield engine, reader
    finally:
        reader.close()
        engine.dispose()


@pytest.fixture(params=["sqlite", "postgres"])
def url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'catalog.db'}"
    return str(request.getfixturevalue("pg_url"))


def _file(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'catalog.db'}"


def _set(engine: Engine, value: object) -> None:
    with engine.begin() as conn:
        conn.exec_driver_sql("UPDATE catalog_generation SET value = ? WHERE id = 1"
                             if engine.dialect.name == "sqlite" else
                             "UPDATE catalog_generation SET value = %s WHERE id = 1",
                             (value,))  # fmt: skip


def test_each_read_sees_the_latest_commit_on_one_kept_connection(url: str) -> None:
    with reading(url) as (engine, reader):
        assert reader.read() == 7
        _set(engine, 8)
        assert reader.read() == 8  # no value is kept between reads
        _set(engine, 9)
        assert reader.read() == 9
        assert len(reader._idle) == 1  # sequential reads share one connection
    assert reader._idle == [] and reader._open == 0


def test_a_value_that_is_not_an_integer_serves_nothing(url: str) -> None:
    with reading(url) as (engine, reader):
        if engine.dialect.name == "sqlite":  # SQLite stores a text as it is given
            _set(engine, "twelve")
            with pytest.raises(Unavailable, match="not an integer"):
                reader.read()
        with engine.begin() as conn:
            conn.exec_driver_sql("DELETE FROM catalog_generation")
        with pytest.raises(Unavailable, match="missing"):
            reader.read()


def test_a_connection_the_server_dropped_is_replaced_and_the_read_served(pg_url: str) -> None:
    """The read is one SELECT that changes nothing: tried once more on a new connection
    (a server restart costs no request); the dead one is never handed out again."""
    with reading(pg_url) as (_engine, reader):
        assert reader.read() == 7
        ((_born, conn),) = reader._idle
        with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
            admin.execute("SELECT pg_terminate_backend(%s)", (conn.info.backend_pid,))
        assert reader.read() == 7
        assert conn.closed
        ((_born, fresh),) = reader._idle
        assert fresh is not conn and reader._open == 1


def test_a_server_that_fails_twice_is_a_503(pg_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    with reading(pg_url) as (_engine, reader):
        assert reader.read() == 7

        def gone(_conn: object) -> None:
            raise psycopg.OperationalError("server closed the connection unexpectedly")

        monkeypatch.setattr(reader, "_select", gone)
        with pytest.raises(Unavailable, match="unavailable"):
            reader.read()
        assert reader._idle == [] and reader._open == 0  # never handed out again


def test_reads_are_in_autocommit_on_a_server(pg_url: str) -> None:
    """No transaction is left open between reads (it would pin a snapshot)."""
    with reading(pg_url) as (_engine, reader):
        reader.read()
        ((_born, conn),) = reader._idle
        assert conn.autocommit
        assert conn.info.transaction_status == psycopg.pq.TransactionStatus.IDLE


def test_libpq_reads_what_the_cursor_reads(pg_url: str) -> None:
    """psycopg 3's reads go straight through libpq: the same value, the same refusals."""
    with reading(pg_url) as (engine, reader):
        assert reader._select is libpq_select
        for value in (0, 1, 2**40, -3):
            _set(engine, value)
            assert reader.read() == value
            ((_born, raw),) = reader._idle
            assert libpq_select(raw) == cursor_select(raw) == (value,)
        _set(engine, None)
        with pytest.raises(Unavailable, match="missing"):
            reader.read()
        with engine.begin() as conn:  # a column of another type: its text, refused
            conn.exec_driver_sql("ALTER TABLE catalog_generation ALTER COLUMN value TYPE text")
            conn.exec_driver_sql("UPDATE catalog_generation SET value = '12'")
        with pytest.raises(Unavailable, match="not an integer"):
            reader.read()
        ((_born, raw),) = reader._idle
        assert libpq_select(raw) == cursor_select(raw) == ("12",)


def test_old_connections_are_renewed(tmp_path: Path) -> None:
    with reading(_file(tmp_path), recycle_s=0.0) as (_engine, reader):
        reader.read()
        ((_born, first),) = reader._idle
        reader.read()
        ((_born, second),) = reader._idle
        assert second is not first and reader._open == 1
        with pytest.raises(Exception, match="closed"):
            first.execute("SELECT 1")


def test_an_in_memory_catalog_is_read_through_its_engine() -> None:
    """A new connection to ``sqlite://`` is a new, empty database: the engine's own
    (static) connection is the only one that holds the catalog."""
    with reading("sqlite://") as (engine, reader):
        assert reader.read() == 7
        _set(engine, 8)
        assert reader.read() == 8
        assert reader._idle == [] and reader._open == 0


def test_it_never_opens_more_than_its_size(tmp_path: Path) -> None:
    """Reads that find every connection of its own busy go through the engine (bounded
    by its pool, as before): the deployment's connection count stays what it was plus
    ``size``."""
    with reading(_file(tmp_path), size=2) as (_engine, reader):
        first, second = reader._take(), reader._take()
        assert first is not None and second is not None
        assert reader._take() is None
        assert reader.read() == 7  # through the engine
        assert reader._open == 2
        reader._give(*first)
        reader._give(*second)
        for _ in range(5):
            assert reader.read() == 7
        assert reader._open == 2 and len(reader._idle) == 2
    assert reader._open == 0


def test_a_failed_connect_frees_its_place(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def refused() -> None:
        raise OSError("refused")

    with reading(_file(tmp_path), size=1) as (_engine, reader):
        monkeypatch.setattr(reader, "_connect", refused)
        with pytest.raises(OSError):
            reader.read()
        assert reader._open == 0
        monkeypatch.undo()
        assert reader.read() == 7
        assert reader._open == 1
