"""The trail gets an index on (resource, type).

Revision ID: 0023_audit_resource_type_index
Revises: 0015_audit_key_mac

Red team 39's rules read a user's grants from the trail as well as from the catalog
(``gateway.enforcement.grants_on_trail``: an insider can delete a grant's row, not its
events): the ``access.requested`` and ``access.approved`` events of one entry. By
``resource`` alone that read walked every event of the entry — each query of it by
anyone — to keep a handful. The index on ``resource`` stays beside it: replaced, a
reviewer's newest-first page of one entry's events sorted every event of the entry
before its first hundred (SQLite's plan). One index more for the writer to keep
(``make bench``'s appends against a bare insert say what it costs). An index touches no
row, so the append-only triggers are not involved.
"""

from alembic import op

revision = "0023_audit_resource_type_index"
down_revision = "0015_audit_key_mac"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_audit_events_resource_type", "audit_events", ["resource", "type"])


def downgrade() -> None:
    op.drop_index("ix_audit_events_resource_type", table_name="audit_events")
