"""``migrate`` skips alembic when the database is at the code's heads: the heads read
from the version files must be alembic's own, and a database one revision behind, new,
or of another history must still be upgraded."""

from __future__ import annotations

from pathlib import Path

import pytest
from alembic.script import ScriptDirectory
from sqlalchemy import text

from catalog.db import alembic_config, at_heads, make_engine, migrate, version_locations
from catalog.migration_heads import code_heads


def test_the_heads_read_from_the_files_are_alembics() -> None:
    script = ScriptDirectory.from_config(alembic_config("sqlite://"))
    assert code_heads(version_locations()) == frozenset(script.get_heads())


def test_a_new_migration_file_moves_the_heads(tmp_path: Path) -> None:
    heads = code_heads(version_locations())
    assert heads is not None
    parent = sorted(heads)[0]
    extra = tmp_path / "9999_next.py"
    extra.write_text(f'revision = "9999_next"\ndown_revision = "{parent}"\n')
    moved = code_heads([*version_locations(), tmp_path])
    assert moved == (heads - {parent}) | {"9999_next"}


@pytest.mark.parametrize("body", ['revision = make()\ndown_revision = None\n',
                                  'down_revision = None\n', 'revision = "x"\n',
                                  "revision = (\n"])  # fmt: skip
def test_a_file_not_plain_enough_means_unsure(tmp_path: Path, body: str) -> None:
    (tmp_path / "0001_odd.py").write_text(body)
    assert code_heads([*version_locations(), tmp_path]) is None


# a plain URL is read with sqlite3 (catalog.db_url), one with a query through SQLAlchemy:
# both must answer alike
@pytest.mark.parametrize("query", ["", "?timeout=5"])
def test_at_heads_after_migrate_and_not_before_or_behind(tmp_path: Path, query: str) -> None:
    url = f"sqlite:///{tmp_path / 'catalog.db'}{query}"
    assert not at_heads(url)  # a new database: alembic creates it
    migrate(url)
    assert at_heads(url)
    engine = make_engine(url)
    with engine.begin() as conn:  # one branch a revision behind its head
        conn.execute(text("UPDATE alembic_version SET version_num = '0013_behind' "
                          "WHERE version_num = '0023_entry_reads'"))  # fmt: skip
    engine.dispose()
    assert not at_heads(url)


def test_a_file_without_the_version_table_is_not_at_heads(tmp_path: Path) -> None:
    path = tmp_path / "other.db"
    path.write_bytes(b"")  # an empty file is an empty SQLite database
    assert not at_heads(f"sqlite:///{path}")
    assert not at_heads(f"sqlite:///{tmp_path}")  # a directory
