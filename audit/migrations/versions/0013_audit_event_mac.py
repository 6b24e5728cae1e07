"""Audit events carry a MAC: an event is bound to the gateways that wrote it.

Revision ID: 0013_audit_event_mac
Revises: 0002_audit

``audit_events.mac`` is HMAC-SHA256 over the event's seq and chain hash, keyed by a key
derived from the deployment's secret files (``audit.signing.EventMac``), never stored
in the database. Nullable: events written before this revision have none, and
verification accepts a MAC-less event only below the first MAC'd one
(``AuditStore.mac_boundary``). Adding a nullable column rewrites no row, so the
append-only triggers are not involved.
"""

import sqlalchemy as sa
from alembic import op

revision = "0013_audit_event_mac"
down_revision = "0002_audit"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("audit_events", sa.Column("mac", sa.String(64), nullable=True))


def downgrade() -> None:
    # plain ALTER on both dialects (SQLite >= 3.35): a batch copy would drop the triggers
    op.execute("ALTER TABLE audit_events DROP COLUMN mac")
