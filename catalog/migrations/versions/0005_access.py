"""Access requests (grants once approved).

Revision ID: 0005_access
Revises: 0001_catalog
"""

import sqlalchemy as sa
from alembic import op

revision = "0005_access"
down_revision = "0001_catalog"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "access_requests",
        sa.Column("id", sa.String(40), primary_key=True),
        sa.Column("requester", sa.String(128), nullable=False, index=True),
        sa.Column(
            "dataset_id", sa.String(128), sa.ForeignKey("datasets.id"), nullable=False, index=True
        ),
        sa.Column("department", sa.String(32), nullable=False),
        sa.Column("fields", sa.JSON, nullable=False),
        sa.Column("purpose", sa.String(64), nullable=False),
        sa.Column("case_ref", sa.String(128), nullable=False),
        sa.Column("justification", sa.Text, nullable=False),
        sa.Column("days", sa.Integer, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("required_approvals", sa.Integer, nullable=False),
        sa.Column("approvals", sa.JSON, nullable=False),
        sa.Column("decided_by", sa.String(128), nullable=True),
        sa.Column("reason", sa.Text, nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("approved_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True),
    )


def downgrade() -> None:
    op.drop_table("access_requests")
