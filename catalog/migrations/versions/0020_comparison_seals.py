"""Seals on the rows that run comparisons (THREAT_MODEL's insider item 4, after 0019).

``comparison_models``, ``comparison_model_versions`` and ``comparison_schedules`` gain
``seal``: the row seal (``catalog.comparison_seals``) over what decides what a run reads
and shows, and as whom a schedule runs. Rows from before this revision have none; the
three tables are adopted together (``row_seal_adoption``'s row ``5``) at the first
start after this revision, with ``catalog.rows_sealed`` naming them on the trail
(``gateway.wiring.row_seals``). A catalog with no model when it reaches this revision
has no version or schedule either (both name a model), nothing to adopt, so its row is
written here.

None of these tables bumps the catalog generation (0011); nor does the new column.

Revision ID: 0020_comparison_seals
Revises: 0019_entry_seals
"""

import sqlalchemy as sa
from alembic import op

revision = "0020_comparison_seals"
down_revision = "0019_entry_seals"
branch_labels = None
depends_on = None

_MARKER = 5  # row_seal_adoption's id for comparison models, versions and schedules
_TABLES = ("comparison_models", "comparison_model_versions", "comparison_schedules")


def upgrade() -> None:
    for table in _TABLES:
        op.add_column(table, sa.Column("seal", sa.String(64), nullable=True))
    bind = op.get_bind()
    if bind.execute(sa.text("SELECT 1 FROM comparison_models LIMIT 1")).first() is None:
        adoption = sa.table("row_seal_adoption", sa.column("id", sa.Integer),
                            sa.column("adopted_at", sa.String))  # fmt: skip
        op.bulk_insert(adoption, [{"id": _MARKER, "adopted_at": "new"}])


def downgrade() -> None:
    op.execute(sa.text("DELETE FROM row_seal_adoption WHERE id = 5"))
    for table in _TABLES:
        with op.batch_alter_table(table) as batch:
            batch.drop_column("seal")
