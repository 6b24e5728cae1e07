"""The console's two tables (migration ``0010_console``), as SQLAlchemy Core tables.

Core, not ORM classes on ``catalog.models.Base``: only the console reads or writes
them, and keeping them off the catalog's mapped classes keeps the catalog free of
anything about browsers. The migration owns the schema; these declarations must match it.
"""

from __future__ import annotations

from sqlalchemy import Column, DateTime, Integer, MetaData, String, Table

metadata = MetaData()

local_passwords = Table(
    "local_passwords",
    metadata,
    Column("subject", String(128), primary_key=True),
    Column("password_hash", String(256), nullable=False),
    Column("set_at", DateTime(timezone=True), nullable=False),
    Column("set_by", String(128), nullable=False),
    Column("failed_count", Integer, nullable=False, default=0),
    Column("locked_until", DateTime(timezone=True), nullable=True),
)

console_sessions = Table(
    "console_sessions",
    metadata,
    Column("id_hash", String(64), primary_key=True),
    Column("subject", String(128), nullable=False),
    Column("csrf_token", String(64), nullable=False),
    Column("via", String(16), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("last_seen_at", DateTime(timezone=True), nullable=False),
)
