"""Seals on the rows that govern access (THREAT_MODEL's insider row).

``users`` and ``casbin_rule`` gain ``seal``: an HMAC under the deployment's row-seal key
(``catalog.row_seals``) over the values that govern a request. Rows from before this
revision have none; a gateway seals them at its first start after the upgrade and puts
``catalog.rows_sealed`` on the trail (``gateway.wiring.row_seals``), once: the
one-row table ``row_seal_adoption`` says it was done. A database with no user and no
casbin line when it reaches this revision (a new one) has nothing to adopt, so the row
is written here. From then on a row without a seal is one written behind the gateway
and governs nothing.

The generation triggers on both tables (0008) see the new column's updates as any other.

Revision ID: 0017_row_seals
Revises: 0016_source_server_identity
"""

import sqlalchemy as sa
from alembic import op

revision = "0017_row_seals"
down_revision = "0016_source_server_identity"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # plain ADD COLUMNs (SQLite has them): no table copy, so the triggers of 0008 stay
    op.add_column("users", sa.Column("seal", sa.String(64), nullable=True))
    op.add_column("casbin_rule", sa.Column("seal", sa.String(64), nullable=True))
    adoption = op.create_table(
        "row_seal_adoption",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("adopted_at", sa.String(40), nullable=False),
    )
    bind = op.get_bind()
    empty = all(
        bind.execute(sa.text(f"SELECT 1 FROM {table} LIMIT 1")).first() is None
        for table in ("users", "casbin_rule")
    )
    if empty:  # nothing from before seals: nothing to adopt, ever
        op.bulk_insert(adoption, [{"id": 1, "adopted_at": "new"}])


def downgrade() -> None:
    op.drop_table("row_seal_adoption")
    for table in ("users", "casbin_rule"):
        with op.batch_alter_table(table) as batch:
            batch.drop_column("seal")
