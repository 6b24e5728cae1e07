"""Each package's migrations in its own folder, one Alembic history (catalog.db).

A database migrated when every revision lived in ``catalog/migrations/versions`` (the
old layout, rebuilt here by copying every revision file into one folder) is already
at the new layout's heads, so ``migrate()`` has nothing to do and changes nothing; a
fresh database migrated by the new layout ends at the same heads with the same
schema. On SQLite and on the machine's PostgreSQL.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, inspect, text

from catalog.db import MIGRATIONS, alembic_config, make_engine, migrate, version_locations
from tests.conftest import create_pg_database, drop_pg_database

OWNED = {  # revision -> the package folder that owns it
    "0001_catalog": "catalog", "0002_audit": "audit", "0003_casbin": "policies",
    "0004_keys": "adapters", "0005_access": "catalog", "0006_catalog_generation": "catalog",
    "0007_catalog_generation_guard": "catalog", "0008_identity_generation": "catalog",
    "0009_emergency": "catalog", "0013_audit_event_mac": "audit",
    "0014_comparison_run_lease": "catalog", "0015_audit_key_mac": "audit",
    "0016_source_server_identity": "catalog", "0023_audit_resource_type_index": "audit",
    "0024_audit_follow_snapshots": "audit",
}  # fmt: skip


def _old_layout(tmp_path: Path) -> Path:
    """``catalog/migrations`` as it was: env, template and every revision in one folder."""
    old = tmp_path / "old-migrations"
    shutil.copytree(MIGRATIONS, old, ignore=shutil.ignore_patterns("versions", "__pycache__"))
    (old / "versions").mkdir()
    for folder in version_locations():
        for revision in folder.glob("*.py"):
            shutil.copy(revision, old / "versions" / revision.name)
    return old


def _migrate_old_layout(url: str, old: Path) -> None:
    cfg = alembic_config(url)
    cfg.set_main_option("script_location", str(old))
    cfg.set_main_option("version_locations", str(old / "versions"))
    command.upgrade(cfg, "heads")


def _heads(conn: Connection) -> set[str]:
    return set(MigrationContext.configure(conn).get_current_heads())


def _schema(conn: Connection) -> dict[str, Any]:
    """Tables, columns, keys, indexes and triggers: what a migration could have changed."""
    inspector = inspect(conn)
    tables = {}
    for name in sorted(inspector.get_table_names()):
        tables[name] = (
            [(c["name"], str(c["type"]), c["nullable"]) for c in inspector.get_columns(name)],
            inspector.get_pk_constraint(name)["constrained_columns"],
            sorted((fk["referred_table"], tuple(fk["constrained_columns"]))
                   for fk in inspector.get_foreign_keys(name)),
            sorted((ix["name"] or "", tuple(ix["column_names"]))
                   for ix in inspector.get_indexes(name)),
        )  # fmt: skip
    if conn.dialect.name == "sqlite":
        triggers = conn.execute(text(
            "SELECT name, tbl_name, sql FROM sqlite_master WHERE type = 'trigger' ORDER BY name"
        )).all()  # fmt: skip
    else:
        triggers = conn.execute(text(
            "SELECT tgname, tgrelid::regclass::text FROM pg_trigger WHERE NOT tgisinternal "
            "ORDER BY tgname"
        )).all()  # fmt: skip
    return {"tables": tables, "triggers": [tuple(t) for t in triggers]}


def test_each_revision_lives_in_its_package_and_the_history_is_unchanged() -> None:
    script = ScriptDirectory.from_config(alembic_config("sqlite://"))
    found = {r.revision: Path(r.path).parents[2].name for r in script.walk_revisions()}
    assert {rev: found[rev] for rev in OWNED} == OWNED
    # ids and parents exactly as they were, so existing databases need nothing
    parents = {r.revision: r.down_revision for r in script.walk_revisions()}
    assert parents["0008_identity_generation"] == ("0007_catalog_generation_guard", "0003_casbin")
    assert {parents[rev] for rev in ("0002_audit", "0003_casbin", "0004_keys", "0005_access")} \
        == {"0001_catalog"}  # fmt: skip
    assert parents["0013_audit_event_mac"] == "0002_audit"  # the audit branch grows alone
    assert parents["0015_audit_key_mac"] == "0013_audit_event_mac"
    assert parents["0023_audit_resource_type_index"] == "0015_audit_key_mac"
    assert parents["0024_audit_follow_snapshots"] == "0023_audit_resource_type_index"
    assert {"0024_audit_follow_snapshots", "0004_keys"} <= set(script.get_heads())


def _old_then_new_and_fresh(old_url: str, fresh_url: str, old: Path) -> None:
    heads = set(ScriptDirectory.from_config(alembic_config(old_url)).get_heads())
    _migrate_old_layout(old_url, old)
    old_engine, fresh_engine = make_engine(old_url), make_engine(fresh_url)
    try:
        with old_engine.connect() as conn:
            assert _heads(conn) == heads  # already at the new layout's heads: nothing to do
            before = _schema(conn)
        migrate(old_url)
        with old_engine.connect() as conn:
            assert _heads(conn) == heads
            assert _schema(conn) == before
        migrate(fresh_url)
        with fresh_engine.connect() as conn:
            assert _heads(conn) == heads
            assert _schema(conn) == before
    finally:
        old_engine.dispose()
        fresh_engine.dispose()


def test_old_and_fresh_databases_end_at_head_on_sqlite(tmp_path: Path) -> None:
    old, fresh = (f"sqlite:///{tmp_path / name}" for name in ("old.db", "fresh.db"))
    _old_then_new_and_fresh(old, fresh, _old_layout(tmp_path))


@pytest.fixture
def two_pg_urls() -> Iterator[tuple[str, str]]:
    old_name, old_url = create_pg_database("sluice_mig_old")
    fresh_name, fresh_url = create_pg_database("sluice_mig_new")
    try:
        yield old_url, fresh_url
    finally:
        drop_pg_database(old_name)
        drop_pg_database(fresh_name)


def test_old_and_fresh_databases_end_at_head_on_postgres(
    two_pg_urls: tuple[str, str], tmp_path: Path
) -> None:
    _old_then_new_and_fresh(*two_pg_urls, _old_layout(tmp_path))
