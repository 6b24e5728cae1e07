"""Helpers to load the demo departments' data into test databases quickly.

Plain functions (not fixtures) so any test module or session fixture can call them::

    from tests.demo_fixtures import TINY, load_demo

    report = load_demo(pg_url, mysql_url, sqlite_dir=tmp_path)   # all at once
    report.anomalies.payroll_on_dibao                           # exact planted counts

Rows are identical in every target of one call (same seed, same stream), and the same
seed and sizes always give the same rows.
"""

from __future__ import annotations

from pathlib import Path

from catalog.demo.generator import GenerationReport, Sizes, generate
from catalog.demo.targets import SqliteTarget, Target, open_target

TINY = Sizes(
    payroll=1_000,
    fund_disbursements=200,
    dibao_recipients=1_500,
    death_registrations=400,
    audit_findings=100,
)
"""Small enough for a per-test load (well under a second of generation)."""


def load_demo(
    *urls: str,
    sqlite_dir: Path | None = None,
    sizes: Sizes = TINY,
    seed: int = 42,
) -> GenerationReport:
    """Generate the five demo tables into each PostgreSQL/MariaDB URL (SQLAlchemy style,
    e.g. the ``pg_url`` / ``mysql_url`` fixtures) and, if given, into per-department
    SQLite files ``<sqlite_dir>/{finance,civil,audit}.db``."""
    targets: list[Target] = [open_target(url) for url in urls]
    if sqlite_dir is not None:
        targets.append(SqliteTarget(sqlite_dir))
    return generate(seed=seed, sizes=sizes, targets=targets)
