"""A source's server identity (red team 7's open row: another department's database by
another address of its server).

``sources`` gains ``server_identity``: ``<system identifier>/<database>`` of the
PostgreSQL server a source's connection last reached, as the server itself says it
(``adapters.sql_config.SERVER_IDENTITY_SQL``). The ownership check compared addresses
only, so a steward could register another department's database through another
address of the same server (a LAN address, a relay, a pooler); with the identity stored,
every connect is refused if another department's source, registered first, reached the
same server and database (``gateway.enforcement.sources.server_claims``). The column
is the gateway's (never in a steward's settings) and stays on a deregistered row, so a
withdrawn source's system is not handed to the next department that asks. Rows from
before this revision have none until their next connect.

The generation triggers on ``sources`` (0006) see the new column's updates as any other.

Revision ID: 0016_source_server_identity
Revises: 0014_comparison_run_lease
"""

import sqlalchemy as sa
from alembic import op

revision = "0016_source_server_identity"
down_revision = "0014_comparison_run_lease"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # a plain ADD COLUMN (SQLite has it): no table copy, so the triggers of 0006 stay
    op.add_column("sources", sa.Column("server_identity", sa.String(200), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("sources") as batch:
        batch.drop_column("server_identity")
