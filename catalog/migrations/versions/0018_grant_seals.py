"""Seals on the rows that grant (THREAT_MODEL's insider row, after 0017).

``access_requests`` and ``reidentification_requests`` gain ``seal``: the row seal
(``catalog.grant_seals``) over everything an approved request grants. Rows from before
this revision have none. Each table is adopted on its own (``row_seal_adoption``'s row
``2`` for access requests, ``3`` for re-identifications; ``1`` is 0017's users and role
lines), so a deployment that adopted its users at 0017 still seals its grant rows once,
at its first start after this revision, with ``catalog.rows_sealed`` naming the table on
the trail (``gateway.wiring.row_seals``). A table empty when it reaches this revision
has nothing to adopt, so its row is written here.

The generation trigger on ``access_requests`` (0008) sees the new column's updates as
any other.

Revision ID: 0018_grant_seals
Revises: 0017_row_seals
"""

import sqlalchemy as sa
from alembic import op

revision = "0018_grant_seals"
down_revision = "0017_row_seals"
branch_labels = None
depends_on = None

# row_seal_adoption's id for each table sealed here
_MARKERS = {"access_requests": 2, "reidentification_requests": 3}


def upgrade() -> None:
    # plain ADD COLUMNs (SQLite has them): no table copy, so the triggers of 0008 stay
    for table in _MARKERS:
        op.add_column(table, sa.Column("seal", sa.String(64), nullable=True))
    bind = op.get_bind()
    adoption = sa.table("row_seal_adoption", sa.column("id", sa.Integer),
                        sa.column("adopted_at", sa.String))  # fmt: skip
    empty = [
        {"id": marker, "adopted_at": "new"}
        for table, marker in _MARKERS.items()
        if bind.execute(sa.text(f"SELECT 1 FROM {table} LIMIT 1")).first() is None
    ]
    if empty:  # nothing from before seals in these tables: nothing to adopt, ever
        op.bulk_insert(adoption, empty)


def downgrade() -> None:
    op.execute(sa.text("DELETE FROM row_seal_adoption WHERE id IN (2, 3)"))
    for table in _MARKERS:
        with op.batch_alter_table(table) as batch:
            batch.drop_column("seal")
