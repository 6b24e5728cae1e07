"""``sluice db``: the schema of the configured database, on the operator's command.

Every ``sluice`` command that opens the catalog also migrates it first, but a
PostgreSQL deployment's gateways hold the runtime role, which cannot (``docs/deploy.md``):
the owner runs ``sluice db migrate`` once per upgrade, before the replicas are rolled,
and ``sluice db current`` tells whether that has happened (exit 1 if not, for scripts
and monitoring). Both read ``SLUICE_DATABASE_URL`` (else the embedded SQLite database in
``SLUICE_HOME``) and print it with its password removed. There is one Alembic history
(``catalog.db``): several branches, each package's tables on its own, upgraded together.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import click
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError

from catalog.db import alembic_config, make_engine
from catalog.db import migrate as upgrade_to_heads
from catalog.private_files import private_dir
from gateway.cli.banner import redact_url
from gateway.core.settings import load_settings


@contextmanager
def _database() -> Iterator[tuple[str, Engine]]:
    settings = load_settings()
    if not settings.database_url:  # the embedded database lives in the home
        private_dir(settings.home)
    url = settings.resolved_database_url
    engine = make_engine(url)
    try:
        yield url, engine
    except SQLAlchemyError as exc:  # one line naming the database, never its password
        raise click.ClickException(f"{redact_url(url)}: {type(exc).__name__}") from None
    finally:
        engine.dispose()


def _current(engine: Engine) -> set[str]:
    with engine.connect() as conn:
        return set(MigrationContext.configure(conn).get_current_heads())


def _pending(script: ScriptDirectory, current: set[str]) -> list[str]:
    """The revisions an upgrade to the heads would apply, oldest first."""
    done: set[str] = set()
    for head in current:
        done.update(r.revision for r in script.iterate_revisions(head, "base"))
    every = list(script.walk_revisions())  # newest first
    return [r.revision for r in reversed(every) if r.revision not in done]


@click.group("db")
def db() -> None:
    """Schema migrations of the catalog and audit database."""


@db.command("current")
def current() -> None:
    """Print the database's revisions; exit 1 if a migration is pending."""
    with _database() as (url, engine):
        script = ScriptDirectory.from_config(alembic_config(url))
        heads = _current(engine)
        pending = _pending(script, heads)
    click.echo(f"database  {redact_url(url)}")
    click.echo(f"at        {', '.join(sorted(heads)) or '(empty: never migrated)'}")
    if pending:
        click.echo(f"pending   {len(pending)}: {', '.join(pending)}")
        raise click.ClickException("the schema is behind: run `sluice db migrate` as the owner")
    click.echo("pending   none (the newest schema)")


@db.command("migrate")
def migrate() -> None:
    """Upgrade the database to the newest schema and print what was applied."""
    with _database() as (url, engine):
        script = ScriptDirectory.from_config(alembic_config(url))
        pending = _pending(script, _current(engine))
        click.echo(f"database  {redact_url(url)}")
        if not pending:
            click.echo("nothing to do: already at the newest schema")
            return
        upgrade_to_heads(url)  # the one path every other command migrates by
        after = _current(engine)
    for revision in pending:
        doc = (script.get_revision(revision).doc or "").splitlines()[0][:70]
        click.echo(f"applied   {revision}  {doc}")
    click.echo(f"now at    {', '.join(sorted(after))}")
