"""The followers' snapshots: where a new process resumes its walk of the trail.

Revision ID: 0024_audit_follow_snapshots
Revises: 0023_audit_resource_type_index

``audit.follow_snapshot``: one row per consumer kind (the approval checks' index,
``ApprovalFacts``), its body the follower's watermark and the consumer's facts as JSON,
``mac`` HMAC-SHA256 over the body keyed by the event MAC key (never in the database).
Unlike the trail's tables it is rewritten in place (the runtime role needs UPDATE, which
``docs/deploy.md``'s grants give every table but the append-only three): whoever edits,
deletes or replays a row only makes a process walk the trail from further back, since a
row is used only when its MAC, its epoch and the trail's hash at its watermark all hold.
Beside the trail (in the same history as its tables, read and written through the audit
store's own connections, ``audit.store``) because the watermark is checked against that
trail, in the same read; the catalog's ORM is not involved.
"""

import sqlalchemy as sa
from alembic import op

revision = "0024_audit_follow_snapshots"
down_revision = "0023_audit_resource_type_index"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "audit_follow_snapshots",
        sa.Column("kind", sa.String(200), primary_key=True),
        sa.Column("body", sa.Text, nullable=False),
        sa.Column("mac", sa.String(64), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("audit_follow_snapshots")
