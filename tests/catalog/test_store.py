"""The catalog store on SQLite and on the real PostgreSQL: migrations from an empty
database, create / publish / read, errors, and the demo installer's idempotence."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, inspect, select
from sqlalchemy.orm import Session

from catalog import service
from catalog.db import make_engine, make_session_factory, migrate
from catalog.demo.install import install_demo_catalog
from catalog.errors import BadRequest, Conflict, NotFound
from catalog.models import Dataset, Department, Field, Source, User
from catalog.schemas import DatasetIn, FieldIn
from tests.row_seals import register_test_seals

CATALOG_TABLES = {"departments", "users", "sources", "datasets", "fields", "alembic_version"}


def _engine(url: str) -> Engine:
    migrate(url)
    register_test_seals(url)
    return make_engine(url)


def _sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'catalog.db'}"


def _check_migrated(url: str) -> None:
    engine = _engine(url)
    try:
        assert set(inspect(engine).get_table_names()) >= CATALOG_TABLES
        migrate(url)  # a second upgrade is a no-op
        columns = {c["name"] for c in inspect(engine).get_columns("fields")}
        assert {"name", "level", "pi_category", "mask_override"} <= columns
    finally:
        engine.dispose()


def test_migrations_from_empty_sqlite(tmp_path: Path) -> None:
    _check_migrated(_sqlite_url(tmp_path))


def test_migrations_from_empty_postgres(pg_url: str) -> None:
    _check_migrated(pg_url)


def _entry(**overrides: Any) -> DatasetIn:
    values: dict[str, Any] = {
        "id": "fin.grants",
        "department": "fin",
        "source_id": "fin-db",
        "object_name": "grants",
        "title_zh": "专项资金",
        "title_en": "Special grants",
        "level": "L3",
        "tags": ["资金", "grants"],
        "region_field": "region_code",
        "fields": [
            FieldIn(name="payee_id", level="L3", pi_category="id_number"),  # type: ignore[arg-type]
            FieldIn(name="amount", type="float64"),
            FieldIn(name="region_code", level="L1"),  # type: ignore[arg-type]
        ],
    }
    values.update(overrides)
    return DatasetIn(**values)


def _seed(session: Session) -> None:
    session.add_all(
        [
            Department(code="fin", name_zh="财政局", name_en="Finance"),
            Department(code="civ", name_zh="民政局", name_en="Civil affairs"),
        ]
    )
    session.flush()
    session.add_all(
        [
            Source(id="fin-db", department="fin", kind="sqlite", display_name="f", settings={}),
            Source(id="civ-db", department="civ", kind="sqlite", display_name="c", settings={}),
        ]
    )
    session.flush()


def _store_roundtrip(url: str) -> None:
    engine = _engine(url)
    try:
        with make_session_factory(engine)() as session:
            _seed(session)
            ds = service.create_dataset(session=session, data=_entry())
            assert ds.status == "draft" and next(f.name for f in ds.fields) == "payee_id"
            session.commit()
        with make_session_factory(engine)() as session:
            assert service.list_datasets(session=session) == []
            with pytest.raises(NotFound):
                service.get_dataset(session=session, dataset_id="fin.grants")
            drafts = service.list_datasets(session=session, include_drafts=True)
            assert [d.id for d in drafts] == ["fin.grants"]
            with pytest.raises(Conflict):
                service.create_dataset(session=session, data=_entry())
            with pytest.raises(BadRequest):
                service.create_dataset(session=session, data=_entry(id="fin.x", source_id="civ-db"))
            with pytest.raises(BadRequest):
                service.create_dataset(session=session, data=_entry(id="fin.y", source_id="nope"))
            with pytest.raises(NotFound):
                service.create_dataset(session=session, data=_entry(id="tax.z", department="tax"))
            service.publish_dataset(session=session, dataset_id="fin.grants")
            session.commit()
        with make_session_factory(engine)() as session:
            got = service.get_dataset(session=session, dataset_id="fin.grants")
            assert got.status == "published" and got.tags == ["资金", "grants"]
            assert [(f.name, f.level, f.pi_category) for f in got.fields] == [
                ("payee_id", "L3", "id_number"),
                ("amount", "L2", "none"),
                ("region_code", "L1", "none"),
            ]
            assert [d.id for d in service.list_datasets(session=session, q="资金")] == [
                "fin.grants"
            ]
            service.unpublish_dataset(session=session, dataset_id="fin.grants")
            session.commit()
            assert service.list_datasets(session=session) == []
    finally:
        engine.dispose()


def test_store_on_sqlite(tmp_path: Path) -> None:
    _store_roundtrip(_sqlite_url(tmp_path))


def test_store_on_postgres(pg_url: str) -> None:
    _store_roundtrip(pg_url)


def test_entry_validation_refuses_inconsistent_input() -> None:
    with pytest.raises(ValueError, match="at least its most sensitive"):
        _entry(level="L2")
    with pytest.raises(ValueError, match="region_field"):
        _entry(region_field="county")
    with pytest.raises(ValueError, match="department code"):
        _entry(id="civ.grants")
    with pytest.raises(ValueError, match="type must be"):
        FieldIn(name="x", type="varchar")


def _snapshot(session: Session) -> list[Any]:
    rows: list[Any] = []
    for model in (Department, Source, Dataset, Field, User):
        for obj in session.scalars(select(model)):
            rows.append({c.key: getattr(obj, c.key) for c in inspect(model).column_attrs})
    return rows


def _install_twice(url: str, data_dir: Path) -> None:
    engine = _engine(url)
    try:
        factory = make_session_factory(engine)
        with factory() as session:
            install_demo_catalog(session=session, data_dir=data_dir)
            session.commit()
        with factory() as session:
            first = _snapshot(session)
        with factory() as session:
            install_demo_catalog(session=session, data_dir=data_dir)
            assert not session.dirty and not session.new and not session.deleted
            session.commit()
        with factory() as session:
            assert _snapshot(session) == first
            assert len(service.list_datasets(session=session)) == 5
            source = session.get(Source, "civil-db")
            assert source is not None
            assert source.settings == {"url": f"sqlite:///{(data_dir / 'civil.db').resolve()}"}
            alice = session.get(User, "alice")
            assert alice is not None and alice.jurisdiction == ["430121"]
            assert alice.clearance == "L3" and alice.roles == ["analyst"]
    finally:
        engine.dispose()


def test_install_demo_catalog_is_idempotent_on_sqlite(tmp_path: Path) -> None:
    _install_twice(_sqlite_url(tmp_path), tmp_path / "demo")


def test_install_demo_catalog_is_idempotent_on_postgres(pg_url: str, tmp_path: Path) -> None:
    _install_twice(pg_url, tmp_path / "demo")
