"""Emergency response: an officer's suspension of a user and freeze of a catalog entry.

- ``users.suspended_by`` / ``suspended_reason`` / ``suspended_at``: who suspended the
  account (status ``suspended``) and why; lifting it needs an admin who is not them.
- ``datasets.frozen_at`` / ``frozen_by`` / ``frozen_reason``: a frozen entry refuses
  every query and comparison. Both tables already bump ``catalog_generation`` (0006,
  0008), so every gateway process sees the change on its very next request.

Revision ID: 0009_emergency
Revises: 0008_identity_generation
"""

import sqlalchemy as sa
from alembic import op

revision = "0009_emergency"
down_revision = "0008_identity_generation"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("users") as batch:
        batch.add_column(sa.Column("suspended_by", sa.String(128), nullable=True))
        batch.add_column(sa.Column("suspended_reason", sa.Text(), nullable=True))
        batch.add_column(sa.Column("suspended_at", sa.DateTime(timezone=True), nullable=True))
    with op.batch_alter_table("datasets") as batch:
        batch.add_column(sa.Column("frozen_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("frozen_by", sa.String(128), nullable=True))
        batch.add_column(sa.Column("frozen_reason", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("datasets") as batch:
        for column in ("frozen_reason", "frozen_by", "frozen_at"):
            batch.drop_column(column)
    with op.batch_alter_table("users") as batch:
        for column in ("suspended_at", "suspended_reason", "suspended_by"):
            batch.drop_column(column)
