"""A table of the partner's own in civil's demo database (the source ``civil-db``), made
from a SELECT over its roll, as the partner's DBA would make one: the red teams' entries
over odd column names and classifications start from it."""

from __future__ import annotations

from sqlalchemy import create_engine, text

from catalog.models import Source
from tests.gateway.demo_app import DemoGateway


def civil_table(gw: DemoGateway, table: str, select: str) -> None:
    """``table`` in civil's database (dropped first if there), as ``CREATE TABLE table
    AS select``."""
    with gw.services.sessions() as session:
        source = session.get(Source, "civil-db")
        assert source is not None
        url = source.settings["url"]
    engine = create_engine(url)
    try:
        with engine.begin() as conn:
            conn.execute(text(f"DROP TABLE IF EXISTS {table}"))
            conn.execute(text(f"CREATE TABLE {table} AS {select}"))
    finally:
        engine.dispose()
