"""Wrapped data keys for the envelope encryption of source secrets.

Revision ID: 0004_keys
Revises: 0001_catalog
"""

import sqlalchemy as sa
from alembic import op

revision = "0004_keys"
down_revision = "0001_catalog"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "data_keys",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("wrapped", sa.LargeBinary, nullable=False),
        sa.Column("master_kid", sa.String(64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("rewrapped_at", sa.DateTime(timezone=True), nullable=True),
    )
    op.create_index("ix_data_keys_master_kid", "data_keys", ["master_kid"])


def downgrade() -> None:
    op.drop_index("ix_data_keys_master_kid", table_name="data_keys")
    op.drop_table("data_keys")
