"""What an entry's object reads (red team 48): ``datasets.reads``.

The tables of its system a catalog entry's object reads, as the source's planner told
it when the entry was drafted or last refreshed (``adapters.sql_lineage``): a view of a
granted table is the table's data whatever its columns are called. The column is under
the entry's seal once set (``catalog.entry_seals.dataset_values``); entries drafted
before this revision name none (NULL) and keep their seals, their name rules as before,
until a steward's refresh tells it.

Revision ID: 0023_entry_reads
Revises: 0022_entry_field_sets
"""

import sqlalchemy as sa
from alembic import op

revision = "0023_entry_reads"
down_revision = "0022_entry_field_sets"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("datasets", sa.Column("reads", sa.JSON(), nullable=True))


def downgrade() -> None:
    op.drop_column("datasets", "reads")
