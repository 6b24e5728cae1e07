"""``generate``: the demo departments' data, deterministic from a seed, into any targets.

Usage (tests, benchmarks, the ``sluice demo-data`` command)::

    from catalog.demo.generator import Sizes, generate
    from catalog.demo.targets import SqliteTarget, open_target

    report = generate(seed=42, sizes=Sizes(payroll=2_000, dibao=4_000),
                      targets=[SqliteTarget(tmp_path), open_target(pg_url)])
    report.anomalies.payroll_on_dibao       # exact count, see ``Anomalies``
    report.digests["payroll"]               # SHA-256 of the rows, for determinism checks

Rows are streamed in batches to every target at once, so memory stays flat and all
targets receive identical data. The same seed and sizes give the same rows (given the
same Faker version, which fills the name and street pools).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from itertools import islice

from catalog.demo.comparison_models import (
    DIBAO_AFTER_DEATH,
    DUPLICATE_SUBSIDY,
    GHOST_ON_PAYROLL,
    PAYROLL_ON_DIBAO,
)
from catalog.demo.people import PersonAllocator
from catalog.demo.pools import build_pools
from catalog.demo.rows import AS_OF, STREAMS, Plan, Row, World
from catalog.demo.tables import TABLES
from catalog.demo.targets import Target
from catalog.errors import BadRequest

BATCH_ROWS = 10_000

ProgressCallback = Callable[[str, int, int], None]
"""Called after each batch with (table name, rows written so far, rows in the table)."""


def _batched(rows: Iterable[Row], size: int) -> Iterator[list[Row]]:
    iterator = iter(rows)
    while batch := list(islice(iterator, size)):
        yield batch


@dataclass(frozen=True)
class Sizes:
    """Rows per table, and optionally the planted anomaly counts (derived when None)."""

    payroll: int = 50_000
    fund_disbursements: int = 30_000
    dibao_recipients: int = 100_000
    death_registrations: int = 20_000
    audit_findings: int = 5_000
    payroll_on_dibao: int | None = None
    deceased_active: int | None = None
    duplicate_payments: int | None = None

    def of(self, table: str) -> int:
        value: int = getattr(self, table)
        return value

    @property
    def total(self) -> int:
        return sum(self.of(t.name) for t in TABLES)

    def plan(self) -> Plan:
        """The overlaps to plant; refuses sizes that cannot hold them."""
        for t in TABLES:
            if self.of(t.name) < 0:
                raise BadRequest(f"size of {t.name} must not be negative")
        both = min(self.payroll, self.dibao_recipients)
        on_dibao = self.payroll_on_dibao
        if on_dibao is None:
            on_dibao = max(1, both // 500) if both else 0
        dead = min(self.dibao_recipients, self.death_registrations)
        deceased = self.deceased_active
        if deceased is None:
            deceased = max(1, dead // 200) if dead else 0
        left = on_dibao // 2
        duplicates = self.duplicate_payments
        if duplicates is None:
            funds = self.fund_disbursements
            duplicates = max(1, funds // 100) if funds > 1 else 0
        plan = Plan(
            payroll_on_dibao=on_dibao,
            payroll_left_dibao=left,
            deceased_active=deceased,
            deceased_terminated=deceased // 2,
            # the three-way model's people: dead, on the payroll and on dibao (active),
            # and its decoy (dead, on the payroll, dibao terminated); taken from the
            # counts above, which therefore stay what they were
            ghosts=min(on_dibao, deceased, max(1, deceased // 3)) if on_dibao and deceased else 0,
            dead_decoys=min(left, deceased // 2, 1),
            duplicate_payments=max(duplicates, 0),
        )
        in_payroll = plan.payroll_on_dibao + plan.payroll_left_dibao
        in_deaths = plan.deceased_active + plan.deceased_terminated
        if min(on_dibao, deceased) < 0:
            raise BadRequest("planted anomaly counts must not be negative")
        if in_payroll > self.payroll or in_deaths > self.death_registrations:
            raise BadRequest("too many planted anomalies for the table sizes", plan=str(plan))
        if in_payroll + in_deaths > self.dibao_recipients:
            raise BadRequest("too many planted anomalies for the dibao size", plan=str(plan))
        return plan


@dataclass(frozen=True)
class Anomalies:
    """Exact counts of the planted anomalies (what a comparison model should find).

    ``payroll_on_dibao``: payroll id_numbers also in dibao_recipients with status
    'active'. ``deceased_still_active``: dibao_recipients with status 'active' whose
    id_number is in death_registrations (every death_date is before today).
    Decoys, which a careless join would count too: ``payroll_left_dibao`` payroll
    people whose dibao is 'terminated', ``deceased_terminated`` dead recipients whose
    dibao was correctly terminated.
    """

    payroll_on_dibao: int
    deceased_still_active: int
    payroll_left_dibao: int
    deceased_terminated: int


@dataclass(frozen=True)
class Planted:
    """What one demo comparison model must find: every hit, and the hits per county
    (an analyst whose jurisdiction is one county finds that county's)."""

    total: int
    by_region: dict[str, int]

    @classmethod
    def of(cls, regions: Sequence[str]) -> Planted:
        counts: dict[str, int] = {}
        for region in regions:
            counts[region] = counts.get(region, 0) + 1
        return cls(total=len(regions), by_region=dict(sorted(counts.items())))


@dataclass
class GenerationReport:
    """What ``generate`` wrote: rows and SHA-256 digest per table, anomaly counts."""

    seed: int
    as_of: str
    rows: dict[str, int] = field(default_factory=dict)
    digests: dict[str, str] = field(default_factory=dict)
    anomalies: Anomalies = field(default_factory=lambda: Anomalies(0, 0, 0, 0))
    targets: list[str] = field(default_factory=list)
    # demo comparison model id -> what it must find (catalog.demo.comparison_models)
    planted: dict[str, Planted] = field(default_factory=dict)

    @property
    def total_rows(self) -> int:
        return sum(self.rows.values())


def generate(
    *,
    seed: int,
    sizes: Sizes | None = None,
    targets: Sequence[Target],
    progress: ProgressCallback | None = None,
    close: bool = True,
) -> GenerationReport:
    """Generate every demo table into every target; closes the targets unless told not to."""
    sizes = sizes or Sizes()
    plan = sizes.plan()
    pools = build_pools(seed)
    world = World(seed=seed, pools=pools, plan=plan, people=PersonAllocator(pools.names))
    report = GenerationReport(
        seed=seed, as_of=AS_OF.isoformat(), targets=[t.label for t in targets]
    )
    try:
        for spec in TABLES:
            total = sizes.of(spec.name)
            digest = hashlib.sha256()
            done = 0
            for target in targets:
                target.begin_table(spec)
            for batch in _batched(STREAMS[spec.name](world, total), BATCH_ROWS):
                for target in targets:
                    target.write_batch(spec, batch)
                digest.update("".join(f"{row!r}\n" for row in batch).encode())
                done += len(batch)
                if progress is not None:
                    progress(spec.name, done, total)
            for target in targets:
                target.end_table(spec)
            if progress is not None and total == 0:
                progress(spec.name, 0, 0)
            report.rows[spec.name] = done
            report.digests[spec.name] = digest.hexdigest()
    finally:
        if close:
            for target in targets:
                target.close()
    report.anomalies = Anomalies(
        payroll_on_dibao=len(world.payroll_planted),
        deceased_still_active=plan.deceased_active,
        payroll_left_dibao=len(world.payroll_decoys),
        deceased_terminated=plan.deceased_terminated,
    )
    report.planted = {
        PAYROLL_ON_DIBAO: Planted.of([region for _, region in world.payroll_planted]),
        DIBAO_AFTER_DEATH: Planted.of(world.paid_after_death),
        DUPLICATE_SUBSIDY: Planted.of(world.duplicate_pairs),
        GHOST_ON_PAYROLL: Planted.of(world.ghosts_found),
    }
    return report
