"""What every gateway connection to PostgreSQL sets for itself (kept out of ``catalog.db``
so the audit store can import it without the migration machinery)."""

from __future__ import annotations

PG_SEARCH_PATH = "-c search_path=public"
"""Every gateway connection to PostgreSQL names its schema: the default search path
(``"$user", public``) would put a schema named after the runtime role before the
tables, and a role that could once ``CREATE`` leaves a shadow ``audit_events`` there
without the append-only triggers (red team 6). ``sluice doctor`` fails such a role;
this makes a shadow made earlier reach nothing. (``pg_temp`` is still searched first,
but a temporary table is visible to the session that made it only.)"""
