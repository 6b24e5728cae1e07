"""A comparison run's lease (issue 15, several replicas on one catalog).

``comparison_runs`` gains the process executing the run (``worker``: host:pid:random)
and when that process last renewed its hold (``heartbeat_at``). A replica fails as
``interrupted`` only unfinished runs whose heartbeat is older than the lease
(``SLUICE_COMPARISON_RUN_LEASE_S``), instead of every unfinished run at its start-up:
starting one replica no longer fails the runs another live replica is executing. Rows
from before this revision have no heartbeat and count as expired.

No generation trigger: the broker never reads this table.

Revision ID: 0014_comparison_run_lease
Revises: 0012_reidentification_schedules
"""

import sqlalchemy as sa
from alembic import op

revision = "0014_comparison_run_lease"
down_revision = "0012_reidentification_schedules"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("comparison_runs") as batch:
        batch.add_column(sa.Column("worker", sa.String(128), nullable=True))
        batch.add_column(sa.Column("heartbeat_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("comparison_runs") as batch:
        for name in ("heartbeat_at", "worker"):
            batch.drop_column(name)
