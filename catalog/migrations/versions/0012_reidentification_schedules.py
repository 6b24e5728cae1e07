"""Re-identification requests and comparison schedules (issue 15).

- ``reidentification_requests``: an analyst's request for the real identities behind
  named hits of their run; approved by a steward of each source department.
- ``comparison_schedules``: a model run again per county (daily, weekly, monthly).
- ``comparison_runs`` gains the schedule it ran for, the county it was narrowed to,
  the schedule's previous run, and how many hits are new since it and which of its
  hits disappeared.

No generation trigger: the broker reads none of these.

Revision ID: 0012_reidentification_schedules
Revises: 0011_comparison_models
"""

import sqlalchemy as sa
from alembic import op

revision = "0012_reidentification_schedules"
down_revision = "0011_comparison_models"
branch_labels = None
depends_on = None

_TZ = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "reidentification_requests",
        sa.Column("id", sa.String(40), primary_key=True),
        sa.Column("requester", sa.String(128), nullable=False, index=True),
        sa.Column(
            "run_id",
            sa.String(40),
            sa.ForeignKey("comparison_runs.id"),
            nullable=False,
            index=True,
        ),
        sa.Column("hit_ids", sa.JSON, nullable=False),
        sa.Column("required", sa.JSON, nullable=False),
        sa.Column("purpose", sa.String(64), nullable=False),
        sa.Column("case_ref", sa.String(128), nullable=False),
        sa.Column("justification", sa.Text, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("approvals", sa.JSON, nullable=False),
        sa.Column("decided_by", sa.String(128), nullable=True),
        sa.Column("reason", sa.Text, nullable=True),
        sa.Column("created_at", _TZ, nullable=False),
        sa.Column("approved_at", _TZ, nullable=True),
    )
    op.create_table(
        "comparison_schedules",
        sa.Column("id", sa.String(40), primary_key=True),
        sa.Column(
            "model_id",
            sa.String(64),
            sa.ForeignKey("comparison_models.id"),
            nullable=False,
            index=True,
        ),
        sa.Column("owner", sa.String(128), nullable=False, index=True),
        sa.Column("region", sa.String(12), nullable=False),
        sa.Column("every", sa.String(16), nullable=False),
        sa.Column("purpose", sa.String(64), nullable=False),
        sa.Column("case_ref", sa.String(128), nullable=False),
        sa.Column("engine", sa.String(32), nullable=True),
        sa.Column("next_due_at", _TZ, nullable=False),
        sa.Column("last_run_id", sa.String(40), nullable=True),
        sa.Column("created_at", _TZ, nullable=False),
        sa.Column("deleted_at", _TZ, nullable=True),
    )
    with op.batch_alter_table("comparison_runs") as batch:
        batch.add_column(sa.Column("schedule_id", sa.String(40), nullable=True))
        batch.add_column(sa.Column("region", sa.String(12), nullable=True))
        batch.add_column(sa.Column("previous_run_id", sa.String(40), nullable=True))
        batch.add_column(sa.Column("new_hits", sa.Integer, nullable=True))
        batch.add_column(sa.Column("disappeared", sa.JSON, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("comparison_runs") as batch:
        for name in ("disappeared", "new_hits", "previous_run_id", "region", "schedule_id"):
            batch.drop_column(name)
    op.drop_table("comparison_schedules")
    op.drop_table("reidentification_requests")
