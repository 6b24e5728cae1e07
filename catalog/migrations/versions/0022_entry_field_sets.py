"""An entry's seal names its fields (THREAT_MODEL's insider row on entries, item 2).

From this revision an entry's seal (``catalog.entry_seals``) covers each of its fields'
name and seal as well as its row, so a field row deleted or inserted behind the gateway
leaves the entry unsealed. No column changes: the seals of an upgraded deployment's
entries are made again at its first start after this revision, on record
(``catalog.rows_sealed`` with ``entry_field_sets``; ``row_seal_adoption``'s row ``7``,
``gateway.wiring.entry_adoption``), and only for an entry whose 0019 seal verifies, so an
entry changed behind the gateway before the upgrade stays refused. A catalog with no
entry when it reaches this revision has nothing to seal again, so its row is written
here.

Revision ID: 0022_entry_field_sets
Revises: 0021_source_seals
"""

import sqlalchemy as sa
from alembic import op

revision = "0022_entry_field_sets"
down_revision = "0021_source_seals"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # row_seal_adoption's row 7 (entries' seals naming their fields): at once for a
    # catalog with no entry, at the first start otherwise
    op.execute(sa.text("INSERT INTO row_seal_adoption (id, adopted_at) SELECT 7, 'new' "
                       "WHERE NOT EXISTS (SELECT 1 FROM datasets)"))  # fmt: skip


def downgrade() -> None:
    # the seals made since name fields, which 0019's do not: they no longer verify
    op.execute(sa.text("DELETE FROM row_seal_adoption WHERE id = 7"))
