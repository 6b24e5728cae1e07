"""Seals on the rows that say where data is read from (THREAT_MODEL's insider item 3).

``sources`` gains ``seal``: the row seal (``catalog.source_seals``) over a source's
connection settings, secret, department and ownership claims. Rows from before this
revision have none; they are adopted (``row_seal_adoption``'s row ``6``) at the first
start after this revision, with ``catalog.rows_sealed`` naming ``sources`` on the trail
(``gateway.wiring.row_seals``). A catalog with no source when it reaches this revision
has nothing to adopt, so its row is written here.

The generation trigger on ``sources`` (0006) sees the new column's updates as any other.

Revision ID: 0021_source_seals
Revises: 0020_comparison_seals
"""

import sqlalchemy as sa
from alembic import op

revision = "0021_source_seals"
down_revision = "0020_comparison_seals"
branch_labels = None
depends_on = None

_MARKER = 6  # row_seal_adoption's id for sources


def upgrade() -> None:
    # a plain ADD COLUMN (SQLite has it): no table copy, so the triggers of 0006 stay
    op.add_column("sources", sa.Column("seal", sa.String(64), nullable=True))
    bind = op.get_bind()
    if bind.execute(sa.text("SELECT 1 FROM sources LIMIT 1")).first() is None:
        adoption = sa.table("row_seal_adoption", sa.column("id", sa.Integer),
                            sa.column("adopted_at", sa.String))  # fmt: skip
        op.bulk_insert(adoption, [{"id": _MARKER, "adopted_at": "new"}])


def downgrade() -> None:
    op.execute(sa.text("DELETE FROM row_seal_adoption WHERE id = 6"))
    with op.batch_alter_table("sources") as batch:
        batch.drop_column("seal")
