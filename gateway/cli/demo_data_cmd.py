"""``sluice demo-data``: generate the demo departments' data and register their catalog.

Writes one SQLite file per department under ``--out`` (default ``$SLUICE_HOME/demo``),
optionally the same rows into PostgreSQL / MariaDB databases, then installs the demo
catalog entries and users into the catalog database so ``sluice catalog list`` and the
gateway see them. Deterministic: the same ``--seed`` and sizes give the same rows.
"""

from __future__ import annotations

from pathlib import Path

import click
from sqlalchemy.engine import make_url

from catalog.demo.generator import GenerationReport, Sizes, generate
from catalog.demo.install import install_demo_catalog
from catalog.demo.targets import SqliteTarget, Target, open_target
from catalog.errors import SluiceError
from gateway.cli.store import catalog_session
from gateway.core.settings import load_settings


def _install_catalog(data_dir: Path) -> str:
    with catalog_session() as session:
        install_demo_catalog(session=session, data_dir=data_dir)
        session.commit()
    return make_url(load_settings().resolved_database_url).render_as_string(hide_password=True)


def _print_report(report: GenerationReport) -> None:
    for table, rows in report.rows.items():
        click.echo(f"  {table:<22} {rows:>10,} rows  sha256 {report.digests[table][:16]}")
    a = report.anomalies
    click.echo("Planted anomalies (exact counts):")
    click.echo(f"  payroll people drawing dibao (status active):      {a.payroll_on_dibao:,}")
    click.echo(f"  dead dibao recipients still active:                {a.deceased_still_active:,}")
    click.echo(f"  decoys - payroll people whose dibao is terminated: {a.payroll_left_dibao:,}")
    click.echo(f"  decoys - dead recipients correctly terminated:     {a.deceased_terminated:,}")
    click.echo("What each demo comparison model must find (exact; alice's county 430121):")
    for model, planted in report.planted.items():
        mine = planted.by_region.get("430121", 0)
        click.echo(f"  {model:<26} {planted.total:>8,} hits  ({mine:,} in 430121)")


@click.command("demo-data")
@click.option("--seed", default=42, show_default=True, help="random seed; same seed, same rows")
@click.option("--payroll", default=50_000, show_default=True, help="rows of finance.payroll")
@click.option(
    "--disbursements", default=30_000, show_default=True, help="rows of finance.fund_disbursements"
)
@click.option("--dibao", default=100_000, show_default=True, help="rows of civil.dibao_recipients")
@click.option(
    "--deaths", default=20_000, show_default=True, help="rows of civil.death_registrations"
)
@click.option("--findings", default=5_000, show_default=True, help="rows of audit.audit_findings")
@click.option("--postgres", "postgres_urls", multiple=True, metavar="URL",
              help="also load into this PostgreSQL database (repeatable)")  # fmt: skip
@click.option("--mysql", "mysql_urls", multiple=True, metavar="URL",
              help="also load into this MariaDB/MySQL database (repeatable)")  # fmt: skip
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="directory of the SQLite files  [default: $SLUICE_HOME/demo]")  # fmt: skip
@click.option("--sqlite/--no-sqlite", default=True, show_default=True,
              help="write the per-department SQLite files")  # fmt: skip
@click.option("--catalog/--no-catalog", default=True, show_default=True,
              help="register demo sources, entries and users in the catalog DB")  # fmt: skip
def demo_data(
    seed: int,
    payroll: int,
    disbursements: int,
    dibao: int,
    deaths: int,
    findings: int,
    postgres_urls: tuple[str, ...],
    mysql_urls: tuple[str, ...],
    out: Path | None,
    sqlite: bool,
    catalog: bool,
) -> None:
    """Generate the finance, civil affairs and audit departments' demo data.

    Prints the rows written per table, the exact counts of the planted anomalies
    (payroll people drawing dibao; dead dibao recipients still active) and what each
    demo comparison model must find.
    """
    settings = load_settings()
    if catalog and sqlite and (not settings.demo or settings.env == "production"):
        # red team 10: on a production home the install overwrote same-named users
        # (jurisdiction, department, own-ID token) and added sources and published
        # entries, off the trail; as ``sluice demo`` refuses (red team 8)
        raise click.ClickException(
            "demo mode is off (SLUICE_DEMO=false, or SLUICE_ENV=production): the demo"
            " catalog would overwrite this deployment's users and entries; pass"
            " --no-catalog to write only the demo departments' files"
        )
    out = (out or settings.demo_data_dir).resolve()
    sizes = Sizes(
        payroll=payroll,
        fund_disbursements=disbursements,
        dibao_recipients=dibao,
        death_registrations=deaths,
        audit_findings=findings,
    )
    try:
        sizes.plan()
        targets: list[Target] = [SqliteTarget(out)] if sqlite else []
        targets += [open_target(u) for u in (*postgres_urls, *mysql_urls)]
    except SluiceError as exc:
        raise click.ClickException(exc.message) from None
    if not targets:
        raise click.UsageError("nothing to write: drop --no-sqlite or give --postgres/--mysql")
    click.echo(f"Generating {sizes.total:,} rows (seed {seed}) into:")
    for target in targets:
        click.echo(f"  {target.label}")
    with click.progressbar(length=sizes.total, label="generating", show_pos=True) as bar:
        done: dict[str, int] = {}

        def progress(table: str, rows: int, _total: int) -> None:
            bar.label = f"{table:<20}"
            bar.update(rows - done.get(table, 0))
            done[table] = rows

        report = generate(seed=seed, sizes=sizes, targets=targets, progress=progress)
    _print_report(report)
    if catalog and sqlite:
        url = _install_catalog(out)
        click.echo(f"Demo catalog (3 departments, 5 published entries, 6 users) installed in {url}")
