"""Catalog generation: one counter every change to what governs a query bumps.

The broker caches catalog entries and grants between requests and reads only this
counter per request. Triggers (not application code) bump it in the same transaction
as the change, so an edit made by any process — or by hand in SQL — is seen by the very
next query in every gateway process.

Revision ID: 0006_catalog_generation
Revises: 0005_access
"""

import sqlalchemy as sa
from alembic import op

revision = "0006_catalog_generation"
down_revision = "0005_access"
branch_labels = None
depends_on = None

WATCHED = ("sources", "datasets", "fields", "access_requests")
VERBS = ("INSERT", "UPDATE", "DELETE")


def upgrade() -> None:
    op.create_table(
        "catalog_generation",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("value", sa.BigInteger, nullable=False),
        sa.CheckConstraint("id = 1", name="catalog_generation_one_row"),
    )
    op.execute("INSERT INTO catalog_generation (id, value) VALUES (1, 1)")
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            "CREATE FUNCTION catalog_generation_bump() RETURNS trigger LANGUAGE plpgsql AS $$ "
            "BEGIN UPDATE catalog_generation SET value = value + 1 WHERE id = 1; "
            "RETURN NULL; END $$"
        )
        for table in WATCHED:
            op.execute(
                f"CREATE TRIGGER {table}_bumps_generation "
                f"AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON {table} "
                "FOR EACH STATEMENT EXECUTE FUNCTION catalog_generation_bump()"
            )
        # a counter that went back could make a cache take an old entry for a current one
        op.execute(
            "CREATE FUNCTION catalog_generation_fixed() RETURNS trigger LANGUAGE plpgsql AS $$ "
            "BEGIN IF TG_OP = 'UPDATE' AND NEW.value > OLD.value AND NEW.id = OLD.id "
            "THEN RETURN NEW; END IF; "
            "RAISE EXCEPTION 'the catalog generation only grows (% refused)', TG_OP; END $$"
        )
        op.execute(
            "CREATE TRIGGER catalog_generation_kept BEFORE UPDATE OR DELETE "
            "ON catalog_generation FOR EACH ROW EXECUTE FUNCTION catalog_generation_fixed()"
        )
        op.execute(
            "CREATE TRIGGER catalog_generation_no_truncate BEFORE TRUNCATE "
            "ON catalog_generation FOR EACH STATEMENT EXECUTE FUNCTION catalog_generation_fixed()"
        )
        return
    for table in WATCHED:
        for verb in VERBS:
            op.execute(
                f"CREATE TRIGGER {table}_{verb.lower()}_bumps_generation AFTER {verb} ON {table} "
                "BEGIN UPDATE catalog_generation SET value = value + 1 WHERE id = 1; END"
            )
    op.execute(
        "CREATE TRIGGER catalog_generation_kept BEFORE DELETE ON catalog_generation "
        "BEGIN SELECT RAISE(ABORT, 'the catalog generation only grows'); END"
    )
    op.execute(
        "CREATE TRIGGER catalog_generation_grows BEFORE UPDATE ON catalog_generation "
        "WHEN NEW.value <= OLD.value OR NEW.id != OLD.id "
        "BEGIN SELECT RAISE(ABORT, 'the catalog generation only grows'); END"
    )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for table in WATCHED:
            op.execute(f"DROP TRIGGER IF EXISTS {table}_bumps_generation ON {table}")
        op.execute("DROP TRIGGER IF EXISTS catalog_generation_kept ON catalog_generation")
        op.execute("DROP TRIGGER IF EXISTS catalog_generation_no_truncate ON catalog_generation")
        op.execute("DROP FUNCTION IF EXISTS catalog_generation_bump()")
        op.execute("DROP FUNCTION IF EXISTS catalog_generation_fixed()")
    else:
        for table in WATCHED:
            for verb in VERBS:
                op.execute(f"DROP TRIGGER IF EXISTS {table}_{verb.lower()}_bumps_generation")
        op.execute("DROP TRIGGER IF EXISTS catalog_generation_kept")
        op.execute("DROP TRIGGER IF EXISTS catalog_generation_grows")
    op.drop_table("catalog_generation")
