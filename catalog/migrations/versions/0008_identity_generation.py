"""Identity is read fresh: users carry a status, and users and role assignments bump
the catalog generation; role names live in their own namespace inside casbin.

- ``users.status`` (``active`` | ``disabled``): a disabled user is refused on the next
  request whatever token they hold.
- Triggers on ``users`` and ``casbin_rule`` bump ``catalog_generation`` in the same
  transaction as the change (as migration 0006 does for the catalog tables), so the
  gateway's per-request identity cache — keyed by that generation — sees an admin's
  change, or an operator's SQL edit, on the very next request in every process.
- casbin role names become ``role:<name>`` (policy lines and assignments): a subject
  spelled like a role (``admin``) no longer *is* that role to casbin, which treats a
  name as linked to itself.

Revision ID: 0008_identity_generation
Revises: 0007_catalog_generation_guard, 0003_casbin (a merge: it needs casbin_rule)
"""

import sqlalchemy as sa
from alembic import op

revision = "0008_identity_generation"
down_revision = ("0007_catalog_generation_guard", "0003_casbin")
branch_labels = None
depends_on = None

WATCHED = ("users", "casbin_rule")
VERBS = ("INSERT", "UPDATE", "DELETE")
ROLES = ("analyst", "steward", "security_officer", "admin")
PREFIX = "role:"


def _rename_roles(*, add: bool) -> None:
    """Policy lines name the role in v0, assignments in v1 (row by row: portable)."""
    conn = op.get_bind()
    rule = sa.table("casbin_rule", sa.column("id", sa.Integer), sa.column("ptype"),
                    sa.column("v0"), sa.column("v1"))  # fmt: skip
    for ptype, column in (("p", rule.c.v0), ("g", rule.c.v1)):
        rows = conn.execute(sa.select(rule.c.id, column).where(rule.c.ptype == ptype)).all()
        for row_id, name in rows:
            if add and name in ROLES:
                new = PREFIX + name
            elif not add and isinstance(name, str) and name.startswith(PREFIX):
                new = name.removeprefix(PREFIX)
            else:
                continue
            conn.execute(sa.update(rule).where(rule.c.id == row_id).values({column.name: new}))
    conn.execute(sa.text("UPDATE casbin_revision SET revision = revision + 1 WHERE id = 1"))


def upgrade() -> None:
    with op.batch_alter_table("users") as batch:
        batch.add_column(
            sa.Column("status", sa.String(16), nullable=False, server_default="active")
        )
    _rename_roles(add=True)
    if op.get_bind().dialect.name == "postgresql":
        for table in WATCHED:  # catalog_generation_bump() comes from 0006
            op.execute(
                f"CREATE TRIGGER {table}_bumps_generation "
                f"AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON {table} "
                "FOR EACH STATEMENT EXECUTE FUNCTION catalog_generation_bump()"
            )
        return
    for table in WATCHED:
        for verb in VERBS:
            op.execute(
                f"CREATE TRIGGER {table}_{verb.lower()}_bumps_generation AFTER {verb} ON {table} "
                "BEGIN UPDATE catalog_generation SET value = value + 1 WHERE id = 1; END"
            )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for table in WATCHED:
            op.execute(f"DROP TRIGGER IF EXISTS {table}_bumps_generation ON {table}")
    else:
        for table in WATCHED:
            for verb in VERBS:
                op.execute(f"DROP TRIGGER IF EXISTS {table}_{verb.lower()}_bumps_generation")
    _rename_roles(add=False)
    with op.batch_alter_table("users") as batch:
        batch.drop_column("status")
