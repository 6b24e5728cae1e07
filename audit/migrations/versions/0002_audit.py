"""Audit trail: append-only events, signed checkpoints, published signing keys.

Revision ID: 0002_audit
Revises: 0001_catalog

Triggers refuse UPDATE and DELETE (and TRUNCATE on PostgreSQL) on all three tables, so
the application and any casual SQL client cannot rewrite history; an insider who drops
the triggers is caught by the hash chain, the signed checkpoints and the witness file.
"""

import sqlalchemy as sa
from alembic import op

revision = "0002_audit"
down_revision = "0001_catalog"
branch_labels = None
depends_on = None

TABLES = ("audit_events", "audit_checkpoints", "audit_keys")
SEQ = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "audit_events",
        sa.Column("seq", SEQ, primary_key=True, autoincrement=False),
        sa.Column("prev_hash", sa.String(64), nullable=False),
        sa.Column("hash", sa.String(64), nullable=False),
        sa.Column("body", sa.Text, nullable=False),
        sa.Column("ts", sa.String(32), nullable=False),
        sa.Column("type", sa.String(64), nullable=False),
        sa.Column("actor_sub", sa.String(128), nullable=False),
        sa.Column("actor_dept", sa.String(64), nullable=True),
        sa.Column("resource", sa.String(300), nullable=True),
        sa.Column("resource_dept", sa.String(64), nullable=True),
        sa.Column("outcome", sa.String(16), nullable=False),
        sa.Column("purpose", sa.String(300), nullable=True),
        sa.Column("case_ref", sa.String(200), nullable=True),
        sa.Column("decision_allow", sa.Boolean, nullable=True),
    )
    # Few indexes: each one costs the writer on every insert; other filters scan by seq.
    for column in ("ts", "actor_sub", "resource"):
        op.create_index(f"ix_audit_events_{column}", "audit_events", [column])
    op.create_table(
        "audit_checkpoints",
        sa.Column("seq", SEQ, primary_key=True, autoincrement=False),
        sa.Column("hash", sa.String(64), nullable=False),
        sa.Column("ts", sa.String(32), nullable=False),
        sa.Column("kid", sa.String(64), nullable=False),
        sa.Column("signature", sa.String(200), nullable=False),
    )
    op.create_table(
        "audit_keys",
        sa.Column("kid", sa.String(64), primary_key=True),
        sa.Column("algorithm", sa.String(16), nullable=False),
        sa.Column("public_key", sa.String(200), nullable=False),
        sa.Column("created_at", sa.String(32), nullable=False),
    )
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            "CREATE FUNCTION audit_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$ "
            "BEGIN RAISE EXCEPTION 'the audit trail is append-only (% on %)', "
            "TG_OP, TG_TABLE_NAME; END $$"
        )
        for table in TABLES:
            op.execute(
                f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
                "FOR EACH ROW EXECUTE FUNCTION audit_refuse_change()"
            )
            op.execute(
                f"CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table} "
                "FOR EACH STATEMENT EXECUTE FUNCTION audit_refuse_change()"
            )
    else:
        for table in TABLES:
            for verb in ("UPDATE", "DELETE"):
                op.execute(
                    f"CREATE TRIGGER {table}_no_{verb.lower()} BEFORE {verb} ON {table} "
                    f"BEGIN SELECT RAISE(ABORT, 'the audit trail is append-only'); END"
                )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for table in TABLES:
            op.execute(f"DROP TRIGGER IF EXISTS {table}_append_only ON {table}")
            op.execute(f"DROP TRIGGER IF EXISTS {table}_no_truncate ON {table}")
        op.execute("DROP FUNCTION IF EXISTS audit_refuse_change()")
    for table in reversed(TABLES):
        op.drop_table(table)
