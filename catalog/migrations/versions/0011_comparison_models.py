"""Comparison models (issue 15): models and their versions, runs, hit lists and leads.

- ``comparison_models``: one shared rule, its owner and whom it is shared with
  (departments, administrative levels); ``current_version`` names its newest version.
- ``comparison_model_versions``: each version's names, descriptions and rule (JSON),
  never updated: a ``PUT`` adds a row.
- ``comparison_runs``: one run of one version (status, progress, hit count, error, who
  asked it to stop), with its owner, purpose, case and engine.
- ``comparison_run_results``: a done run's hit list (Arrow IPC), deleted when it expires.
- ``comparison_leads``: what became of each hit (confirmed, false positive, rectified).

No generation trigger on any of them: the broker reads none, and a run's progress
updates must not invalidate every process's caches.

Revision ID: 0011_comparison_models
Revises: 0010_console
"""

import sqlalchemy as sa
from alembic import op

revision = "0011_comparison_models"
down_revision = "0010_console"
branch_labels = None
depends_on = None

_TZ = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "comparison_models",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("owner", sa.String(128), nullable=False, index=True),
        sa.Column("department", sa.String(32), nullable=True),
        sa.Column("current_version", sa.Integer, nullable=False),
        sa.Column("shared_departments", sa.JSON, nullable=False),
        sa.Column("shared_levels", sa.JSON, nullable=False),
        sa.Column("created_at", _TZ, nullable=False),
        sa.Column("updated_at", _TZ, nullable=False),
    )
    op.create_table(
        "comparison_model_versions",
        sa.Column(
            "model_id",
            sa.String(64),
            sa.ForeignKey("comparison_models.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("version", sa.Integer, primary_key=True),
        sa.Column("name_zh", sa.String(200), nullable=False),
        sa.Column("name_en", sa.String(200), nullable=False),
        sa.Column("description_zh", sa.Text, nullable=False),
        sa.Column("description_en", sa.Text, nullable=False),
        sa.Column("spec", sa.JSON, nullable=False),
        sa.Column("entries", sa.JSON, nullable=False),
        sa.Column("created_by", sa.String(128), nullable=False),
        sa.Column("created_at", _TZ, nullable=False),
    )
    op.create_table(
        "comparison_runs",
        sa.Column("id", sa.String(40), primary_key=True),
        sa.Column(
            "model_id",
            sa.String(64),
            sa.ForeignKey("comparison_models.id"),
            nullable=False,
            index=True,
        ),
        sa.Column("model_version", sa.Integer, nullable=False),
        sa.Column("owner", sa.String(128), nullable=False, index=True),
        sa.Column("purpose", sa.String(64), nullable=False),
        sa.Column("case_ref", sa.String(128), nullable=False),
        sa.Column("engine", sa.String(32), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("progress", sa.Float, nullable=False),
        sa.Column("hits", sa.Integer, nullable=True),
        sa.Column("truncated", sa.Boolean, nullable=False),
        sa.Column("error", sa.JSON, nullable=True),
        sa.Column("cancel_requested", sa.Boolean, nullable=False),
        sa.Column("columns", sa.JSON, nullable=False),
        sa.Column("sides", sa.JSON, nullable=False),
        sa.Column("request_id", sa.String(64), nullable=False),
        sa.Column("created_at", _TZ, nullable=False),
        sa.Column("started_at", _TZ, nullable=True),
        sa.Column("finished_at", _TZ, nullable=True),
        sa.Column("expires_at", _TZ, nullable=True),
    )
    op.create_table(
        "comparison_run_results",
        sa.Column(
            "run_id",
            sa.String(40),
            sa.ForeignKey("comparison_runs.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("data", sa.LargeBinary, nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
    )
    op.create_table(
        "comparison_leads",
        sa.Column(
            "run_id",
            sa.String(40),
            sa.ForeignKey("comparison_runs.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("hit_id", sa.Integer, primary_key=True),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("note", sa.Text, nullable=False),
        sa.Column("rectified_on", sa.Date, nullable=True),
        sa.Column("updated_by", sa.String(128), nullable=False),
        sa.Column("updated_at", _TZ, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("comparison_leads")
    op.drop_table("comparison_run_results")
    op.drop_table("comparison_runs")
    op.drop_table("comparison_model_versions")
    op.drop_table("comparison_models")
