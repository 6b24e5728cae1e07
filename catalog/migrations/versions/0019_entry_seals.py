"""Seals on the rows that classify (red team 16, after 0017 and 0018).

``datasets`` and ``fields`` gain ``seal``: the row seal (``catalog.entry_seals``) over
what governs access to an entry and each of its fields. Rows from before this revision
have none; both tables are adopted together (``row_seal_adoption``'s row ``4``) at the
first start after this revision, with ``catalog.rows_sealed`` naming them on the trail
(``gateway.wiring.row_seals``). A catalog with no entry when it reaches this revision
has nothing to adopt, so its row is written here.

The generation triggers on both tables (0006) see the new column's updates as any other.

Revision ID: 0019_entry_seals
Revises: 0018_grant_seals
"""

import sqlalchemy as sa
from alembic import op

revision = "0019_entry_seals"
down_revision = "0018_grant_seals"
branch_labels = None
depends_on = None

_MARKER = 4  # row_seal_adoption's id for entries and their fields
_TABLES = ("datasets", "fields")


def upgrade() -> None:
    # plain ADD COLUMNs (SQLite has them): no table copy, so the triggers of 0006 stay
    for table in _TABLES:
        op.add_column(table, sa.Column("seal", sa.String(64), nullable=True))
    bind = op.get_bind()
    if bind.execute(sa.text("SELECT 1 FROM datasets LIMIT 1")).first() is None:
        adoption = sa.table("row_seal_adoption", sa.column("id", sa.Integer),
                            sa.column("adopted_at", sa.String))  # fmt: skip
        op.bulk_insert(adoption, [{"id": _MARKER, "adopted_at": "new"}])


def downgrade() -> None:
    op.execute(sa.text("DELETE FROM row_seal_adoption WHERE id = 4"))
    for table in _TABLES:
        with op.batch_alter_table(table) as batch:
            batch.drop_column("seal")
