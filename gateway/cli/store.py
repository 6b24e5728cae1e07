"""The catalog database as CLI commands open it: settings from ``SLUICE_*``, the home
created, migrations applied, one session, errors shown as click messages."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import click
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from catalog.db import make_engine, make_session_factory, migrate
from catalog.errors import SluiceError
from catalog.private_files import private_dir
from gateway.core.settings import Settings, load_settings
from gateway.wiring.row_seals import install_row_seals


def migrated_url(settings: Settings | None = None) -> str:
    settings = settings or load_settings()
    private_dir(settings.home)
    url = settings.resolved_database_url
    migrate(url)
    install_row_seals(url, settings.home)  # rows this command writes are sealed
    return url


@contextmanager
def catalog_engine() -> Iterator[Engine]:
    engine = make_engine(migrated_url())
    try:
        yield engine
    finally:
        engine.dispose()


@contextmanager
def catalog_session() -> Iterator[Session]:
    """A session on the migrated catalog database; the caller commits."""
    with catalog_engine() as engine, make_session_factory(engine)() as session:
        try:
            yield session
        except SluiceError as exc:
            raise click.ClickException(f"{exc.code}: {exc.message}") from None
