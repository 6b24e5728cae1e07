"""Audit key rows carry a MAC: a published key is bound to the deployment's gateways.

Revision ID: 0015_audit_key_mac
Revises: 0013_audit_event_mac

``audit_keys.mac`` is HMAC-SHA256 over the row's kid, algorithm and public key, keyed
by the event MAC key (``audit.signing.EventMac.key_tag``; derived from the deployment's
secret file, never in the database). The runtime role may append to ``audit_keys``, so
without it an insider's key was published for pinning (red team 5). Nullable: rows
written before this revision have none, and cannot get one (the table is append-only);
``audit.signing.KeyRows`` says what a MAC-less row may still do. Adding a nullable
column rewrites no row, so the append-only triggers are not involved.
"""

import sqlalchemy as sa
from alembic import op

revision = "0015_audit_key_mac"
down_revision = "0013_audit_event_mac"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("audit_keys", sa.Column("mac", sa.String(64), nullable=True))


def downgrade() -> None:
    # plain ALTER on both dialects (SQLite >= 3.35): a batch copy would drop the triggers
    op.execute("ALTER TABLE audit_keys DROP COLUMN mac")
