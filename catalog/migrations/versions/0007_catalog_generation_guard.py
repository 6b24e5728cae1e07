"""Catalog generation: close two ways to set the counter back on SQLite.

``REPLACE INTO catalog_generation`` deletes and re-inserts the row without firing the
DELETE trigger (SQLite fires it only with recursive triggers on), and SQLite compares a
text value above any number, so ``SET value = 'x'`` passed "only grows". Either could
make a cache take an old entry for a current one. PostgreSQL already refuses both (the
column is typed; an upsert goes through the UPDATE trigger).

Revision ID: 0007_catalog_generation_guard
Revises: 0006_catalog_generation
"""

from alembic import op

revision = "0007_catalog_generation_guard"
down_revision = "0006_catalog_generation"
branch_labels = None
depends_on = None


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        return
    op.execute(
        "CREATE TRIGGER catalog_generation_one_row BEFORE INSERT ON catalog_generation "
        "WHEN (SELECT count(*) FROM catalog_generation) > 0 "
        "OR typeof(NEW.value) != 'integer' "
        "BEGIN SELECT RAISE(ABORT, 'the catalog generation only grows'); END"
    )
    op.execute("DROP TRIGGER IF EXISTS catalog_generation_grows")
    op.execute(
        "CREATE TRIGGER catalog_generation_grows BEFORE UPDATE ON catalog_generation "
        "WHEN typeof(NEW.value) != 'integer' OR NEW.value <= OLD.value OR NEW.id != OLD.id "
        "BEGIN SELECT RAISE(ABORT, 'the catalog generation only grows'); END"
    )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        return
    op.execute("DROP TRIGGER IF EXISTS catalog_generation_one_row")
    op.execute("DROP TRIGGER IF EXISTS catalog_generation_grows")
    op.execute(
        "CREATE TRIGGER catalog_generation_grows BEFORE UPDATE ON catalog_generation "
        "WHEN NEW.value <= OLD.value OR NEW.id != OLD.id "
        "BEGIN SELECT RAISE(ABORT, 'the catalog generation only grows'); END"
    )
