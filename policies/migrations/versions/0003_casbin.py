"""casbin tables: ``casbin_rule`` (policy + role assignments) and a change counter.

``casbin_rule`` has exactly the columns of ``sqlalchemy_adapter``'s model, which the
Authorizer uses with ``create_table=False``. ``casbin_revision`` is bumped by every
change made through ``policies.rbac.Authorizer`` so other processes notice cheaply.

Revision ID: 0003_casbin
Revises: 0001_catalog
"""

import sqlalchemy as sa
from alembic import op

revision = "0003_casbin"
down_revision = "0001_catalog"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "casbin_rule",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("ptype", sa.String(255)),
        sa.Column("v0", sa.String(255)),
        sa.Column("v1", sa.String(255)),
        sa.Column("v2", sa.String(255)),
        sa.Column("v3", sa.String(255)),
        sa.Column("v4", sa.String(255)),
        sa.Column("v5", sa.String(255)),
    )
    op.create_index("ix_casbin_rule_ptype_v0", "casbin_rule", ["ptype", "v0"])
    op.create_table(
        "casbin_revision",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("revision", sa.BigInteger, nullable=False),
    )
    op.bulk_insert(
        sa.table("casbin_revision", sa.column("id", sa.Integer), sa.column("revision")),
        [{"id": 1, "revision": 0}],
    )


def downgrade() -> None:
    op.drop_table("casbin_revision")
    op.drop_index("ix_casbin_rule_ptype_v0", table_name="casbin_rule")
    op.drop_table("casbin_rule")
