"""``sluice catalog list|show|search``: read the catalog database from the command line
(and ``rebind``, an operator's repair: ``gateway.cli.rebind_cmd``).

Reads the database named by the settings (``SLUICE_DATABASE_URL`` or the SQLite file in
``SLUICE_HOME``), migrating it first so a fresh home works. Read-only otherwise.
"""

from __future__ import annotations

import click

from catalog import service
from catalog.models import Dataset, DatasetStatus
from catalog.schemas import DatasetOut
from gateway.cli.rebind_cmd import rebind_cmd
from gateway.cli.shown import shown, shown_json
from gateway.cli.store import catalog_session

UNSEALED = "changed outside the gateway: serves nothing until restored"


def _table(datasets: list[Dataset]) -> None:
    if not datasets:
        click.echo("no catalog entries match")
        return
    width = max(len(shown(d.id)) for d in datasets)
    for d in datasets:
        status = "" if d.status == DatasetStatus.PUBLISHED else f" [{shown(d.status)}]"
        click.echo(f"{shown(d.id):<{width}}  {shown(d.level)}  {shown(d.title_zh)} / "
                   f"{shown(d.title_en)}{status}{_unsealed(d)}")  # fmt: skip


def _unsealed(d: Dataset) -> str:
    """The console's mark of an entry that does not verify (``Dataset.sealed``): the
    operator reads such a row here before a rebind binds it as it is (red team 59)."""
    return "" if d.sealed else f"  [{UNSEALED}]"


def _json(datasets: list[Dataset]) -> None:
    rows = [DatasetOut.model_validate(d).model_dump(mode="json") for d in datasets]
    click.echo(shown_json(rows))


_FILTERS = [
    click.option("--department", help="department code, e.g. civil"),
    click.option("--level", help="L1, L2, L3 or L4"),
    click.option("--tag", help="exact tag, e.g. 低保"),
    click.option("--drafts", is_flag=True, help="include unpublished entries"),
    click.option("--json", "as_json", is_flag=True, help="print JSON"),
]


def _with_filters(func: click.decorators.FC) -> click.decorators.FC:
    for option in reversed(_FILTERS):
        func = option(func)
    return func


@click.group("catalog")
def catalog() -> None:
    """Browse and search the data resource catalog."""


def _list(
    q: str | None, department: str | None, level: str | None, tag: str | None,
    drafts: bool, as_json: bool,
) -> None:  # fmt: skip
    with catalog_session() as session:
        found = service.list_datasets(
            session=session, q=q, department=department, level=level, tag=tag,
            include_drafts=drafts,
        )  # fmt: skip
        (_json if as_json else _table)(found)


@catalog.command("list")
@_with_filters
def list_cmd(
    department: str | None, level: str | None, tag: str | None, drafts: bool, as_json: bool
) -> None:
    """List catalog entries (published ones unless --drafts)."""
    _list(None, department, level, tag, drafts, as_json)


@catalog.command("search")
@click.argument("text")
@_with_filters
def search_cmd(
    text: str, department: str | None, level: str | None, tag: str | None, drafts: bool,
    as_json: bool,
) -> None:  # fmt: skip
    """Search titles, descriptions, tags and field names (中文 or English), best match first."""
    _list(text, department, level, tag, drafts, as_json)


@catalog.command("show")
@click.argument("dataset_id")
@click.option("--drafts", is_flag=True, help="also show an unpublished entry")
@click.option("--json", "as_json", is_flag=True, help="print JSON")
def show_cmd(dataset_id: str, drafts: bool, as_json: bool) -> None:
    """Show one entry with its fields' classification."""
    with catalog_session() as session:
        d = service.get_dataset(session=session, dataset_id=dataset_id, include_drafts=drafts)
        if as_json:
            _json([d])
            return
        # codes too: what a gateway writes is a code, what an insider writes is anything,
        # and this is the row the operator reads before a rebind (red team 59)
        click.echo(f"{shown(d.id)}  [{shown(d.status)}]  level {shown(d.level)}  "
                   f"department {shown(d.department)}{_unsealed(d)}")  # fmt: skip
        click.echo(f"  {shown(d.title_zh)}\n  {shown(d.title_en)}")
        click.echo(f"  {shown(d.description_zh)}\n  {shown(d.description_en)}")
        click.echo(f"  tags: {', '.join(shown(t) for t in d.tags)}")
        purposes = ", ".join(shown(p) for p in d.allowed_purposes)
        click.echo(f"  purposes: {purposes}  region field: {shown(d.region_field)}")
        click.echo(f"  updated {shown(d.update_frequency)}, schema v{d.schema_version}")
        width = max(len(shown(f.name)) for f in d.fields) if d.fields else 0
        for f in d.fields:
            click.echo(f"    {shown(f.name):<{width}}  {shown(f.type):<8} {shown(f.level)}  "
                       f"{shown(f.pi_category):<10} {shown(f.description)}")  # fmt: skip


catalog.add_command(rebind_cmd)
