"""Alembic environment: runs migrations against the URL set by ``catalog.db.migrate``."""

from __future__ import annotations

from alembic import context

from catalog.db import make_engine
from catalog.models import Base

config = context.config
url = config.get_main_option("sqlalchemy.url")
assert url is not None, "catalog.db.migrate sets sqlalchemy.url"

engine = make_engine(url)
with engine.connect() as connection:
    context.configure(connection=connection, target_metadata=Base.metadata)
    with context.begin_transaction():
        context.run_migrations()
engine.dispose()
