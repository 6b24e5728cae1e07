"""Web console (issue 14): local passwords and console sessions.

- ``local_passwords``: an argon2 hash per local account (no OIDC provider), set by an
  admin (``sluice users passwd``), with the consecutive failures and the lockout that
  follows them. A separate table, not columns of ``users``: ``users`` bumps the catalog
  generation on every change (0008), and a failed sign-in must not invalidate every
  process's caches.
- ``console_sessions``: one row per signed-in browser, keyed by the SHA-256 of the
  session id the (signed) cookie carries, so a copy of this table signs nobody in.
  Sign-out deletes the row; the idle timeout is read from ``last_seen_at``.

Revision ID: 0010_console
Revises: 0009_emergency
"""

import sqlalchemy as sa
from alembic import op

revision = "0010_console"
down_revision = "0009_emergency"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "local_passwords",
        sa.Column(
            "subject",
            sa.String(128),
            sa.ForeignKey("users.subject", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("password_hash", sa.String(256), nullable=False),
        sa.Column("set_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("set_by", sa.String(128), nullable=False),
        sa.Column("failed_count", sa.Integer, nullable=False, server_default="0"),
        sa.Column("locked_until", sa.DateTime(timezone=True), nullable=True),
    )
    op.create_table(
        "console_sessions",
        sa.Column("id_hash", sa.String(64), primary_key=True),
        sa.Column(
            "subject",
            sa.String(128),
            sa.ForeignKey("users.subject", ondelete="CASCADE"),
            nullable=False,
            index=True,
        ),
        sa.Column("csrf_token", sa.String(64), nullable=False),
        sa.Column("via", sa.String(16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_seen_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("console_sessions")
    op.drop_table("local_passwords")
