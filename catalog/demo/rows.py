"""Row streams of the five demo tables, composed from pools with seeded ``random.Random``.

Streams must be consumed in ``tables.TABLES`` order: the payroll stream picks the
people who will also draw dibao, the dibao stream picks the recipients who will die,
and later streams plant them. Each table has its own RNG (seeded from the seed and the
table name), so sizes of one table change its own rows and the ID numbers handed out
after it, and nothing else.
"""

from __future__ import annotations

import random
from collections import Counter, deque
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any, TypeVar

from catalog.demo.comparison_models import GRACE_DAYS, LAST_PAYMENT
from catalog.demo.identity import bank_card, mobile
from catalog.demo.people import Person, PersonAllocator
from catalog.demo.pools import AUDIT_CATEGORIES, AUDIT_STATUSES, POSITIONS, PROJECTS, Pools
from catalog.demo.regions import REGION_CODES, REGION_WEIGHTS, REGIONS

Row = tuple[Any, ...]
T = TypeVar("T")

AS_OF = date(2024, 12, 31)
"""The demo world's "today": fixed, so the seed alone decides every row (and every death
date is before the real today)."""

_PREFIX = {r.code: r.address_prefix for r in REGIONS}


@dataclass(frozen=True)
class Plan:
    """How many planted and decoy overlaps to make; the generator validates it."""

    payroll_on_dibao: int  # on payroll and drawing dibao (status active): the anomaly
    payroll_left_dibao: int  # on payroll, dibao terminated: a decoy, not an anomaly
    deceased_active: int  # registered dead, dibao still active: the anomaly
    deceased_terminated: int  # registered dead, dibao terminated: a decoy
    ghosts: int = 0  # of deceased_active: also on the payroll (the three-way model)
    dead_decoys: int = 0  # of deceased_terminated: also on the payroll (its decoy)
    duplicate_payments: int = 0  # disbursements repeating an earlier one (self-join model)


@dataclass
class World:
    """Shared state of one generation run."""

    seed: int
    pools: Pools
    plan: Plan
    people: PersonAllocator
    payroll_planted: list[tuple[Person, str]] = field(default_factory=list)
    payroll_decoys: list[tuple[Person, str]] = field(default_factory=list)
    # (person, region, date of death, last payment of the allowance)
    dead_planted: list[tuple[Person, str, date, date]] = field(default_factory=list)
    # region of each pair the comparison models must find, by model (``planted``)
    ghosts_found: list[str] = field(default_factory=list)
    paid_after_death: list[str] = field(default_factory=list)
    duplicate_pairs: list[str] = field(default_factory=list)
    grace_decoy_planted: bool = False

    def rng(self, table: str) -> random.Random:
        return random.Random(f"{self.seed}:{table}")  # noqa: S311 - reproducible, not secret


# Weighted choices as flat tuples: picking by index is several times faster than
# ``random.choices``, which matters at a million rows.
_REGION_POOL = tuple(
    code for code, w in zip(REGION_CODES, REGION_WEIGHTS, strict=True) for _ in range(w)
)
_HOUSEHOLDS = (1,) * 30 + (2,) * 25 + (3,) * 20 + (4,) * 14 + (5,) * 8 + (6,) * 3
_AUDIT_STATUS_POOL = tuple(
    s for s, w in zip(AUDIT_STATUSES, (2, 3, 5), strict=True) for _ in range(w)
)


def _pick(rng: random.Random, seq: Sequence[T]) -> T:
    return seq[int(rng.random() * len(seq))]


def _int(rng: random.Random, low: int, high: int) -> int:
    """Uniform integer in [low, high)."""
    return low + int(rng.random() * (high - low))


def _region(rng: random.Random) -> str:
    return _pick(rng, _REGION_POOL)


def _day(rng: random.Random, first: date, last: date) -> date:
    return date.fromordinal(_int(rng, first.toordinal(), last.toordinal() + 1))


def _years_before(years: int) -> date:
    return AS_OF.replace(year=AS_OF.year - years)


def _positions(rng: random.Random, n: int, k: int) -> set[int]:
    return set(rng.sample(range(n), k)) if k else set()


def payroll(world: World, n: int) -> Iterator[Row]:
    """People on the public payroll; some are chosen to be planted in dibao later."""
    rng = world.rng("payroll")
    plan = world.plan
    picked = _positions(rng, n, plan.payroll_on_dibao + plan.payroll_left_dibao)
    oldest, youngest = _years_before(60), _years_before(22)
    employers = world.pools.employers
    for i in range(n):
        person = world.people.new(rng, oldest=oldest, youngest=youngest)
        region = _region(rng)
        position, low, high = _pick(rng, POSITIONS)
        if i in picked:
            if len(world.payroll_planted) < plan.payroll_on_dibao:
                world.payroll_planted.append((person, region))
            else:
                world.payroll_decoys.append((person, region))
        yield (
            person.id_number,
            person.name,
            _pick(rng, employers[region]),
            position,
            round(rng.uniform(low, high), 2),
            bank_card(rng),
            region,
        )


def fund_disbursements(world: World, n: int) -> Iterator[Row]:
    """Subsidy payments to companies, cooperatives and public institutions; some repeat
    an earlier payment (same payee, programme and amount, another date). Every pair of
    payments a payee received for the same programme and amount is counted, planted or
    not (``World.duplicate_pairs``)."""
    rng = world.rng("fund_disbursements")
    # the repeats draw from their own generator: every other value stays as it was
    dupes = world.rng("fund_disbursements:duplicates")
    k = min(world.plan.duplicate_payments, max(n - 1, 0))
    repeats = set(dupes.sample(range(1, n), k)) if k else set()
    recent: deque[Row] = deque(maxlen=256)
    seen: Counter[tuple[str, str, float]] = Counter()
    first = date(AS_OF.year - 2, 1, 1)
    for i in range(n):
        region = _region(rng)
        amount = round(rng.lognormvariate(10.0, 1.1), 2)  # median ≈ 22,000 yuan
        row: Row = (
            f"ZF{AS_OF.year}{i + 1:08d}",
            _pick(rng, PROJECTS),
            _pick(rng, world.pools.payees[region]),
            amount,
            _day(rng, first, AS_OF).isoformat(),
            region,
        )
        if i in repeats:
            source = recent[int(dupes.random() * len(recent))]
            paid = min(date.fromisoformat(source[4]) + timedelta(days=_int(dupes, 1, 200)), AS_OF)
            row = (row[0], source[1], source[2], source[3], paid.isoformat(), source[5])
        key = (row[2], row[1], row[3])
        world.duplicate_pairs.extend([row[5]] * seen[key])  # one pair with each earlier one
        seen[key] += 1
        recent.append(row)
        yield row


def _last_paid(rng: random.Random, start: date, status: str) -> date:
    """The allowance's last payment: the last monthly run while active, else some
    payment run since it started."""
    return LAST_PAYMENT if status == "active" else _day(rng, start, LAST_PAYMENT)


def _death(world: World, rng: random.Random, start: date, status: str) -> tuple[date, date]:
    """A planted recipient's date of death and last payment. Terminated ones were last
    paid on or before they died; active ones are paid still — the first of them died in
    the month before the last payment (a death still being processed: a decoy)."""
    after_start = start + timedelta(days=1)
    if status == "terminated":
        died = _day(rng, after_start, AS_OF)
        return died, _day(rng, start, min(died, LAST_PAYMENT))
    if not world.grace_decoy_planted and world.plan.deceased_active - world.plan.ghosts >= 2:
        world.grace_decoy_planted = True
        return max(LAST_PAYMENT - timedelta(days=GRACE_DAYS // 3), after_start), LAST_PAYMENT
    return _day(rng, after_start, AS_OF), LAST_PAYMENT


def dibao_recipients(world: World, n: int) -> Iterator[Row]:
    """Minimum-livelihood-guarantee recipients, with the planted payroll people and the
    recipients who will appear in the death register (a few of them both: the ghosts
    on the payroll)."""
    rng = world.rng("dibao_recipients")
    # last payments and planted deaths draw from their own generator, so the columns
    # that existed before ``last_paid`` are drawn as they were
    dates = world.rng("dibao_recipients:dates")
    plan = world.plan
    ghosts, decoys = world.payroll_planted[: plan.ghosts], world.payroll_decoys[: plan.dead_decoys]
    # (person, region, status) to place at random positions
    special: list[tuple[Person | None, str | None, str]] = [
        *((p, r, "active") for p, r in world.payroll_planted[plan.ghosts :]),
        *((p, r, "dead:active") for p, r in ghosts),
        *((p, r, "terminated") for p, r in world.payroll_decoys[plan.dead_decoys :]),
        *((p, r, "dead:terminated") for p, r in decoys),
        *((None, None, "dead:active") for _ in range(plan.deceased_active - plan.ghosts)),
        *((None, None, "dead:terminated")
          for _ in range(plan.deceased_terminated - plan.dead_decoys)),
    ]  # fmt: skip
    slots = rng.sample(range(n), len(special)) if special else []
    at = dict(zip(slots, special, strict=True))
    oldest, youngest = _years_before(95), _years_before(18)
    first_start = date(2010, 1, 1)
    streets = world.pools.streets
    ghost_ids = {p.id_number for p, _ in ghosts}
    for i in range(n):
        planted = at.get(i)
        person = None
        region = None
        if planted is not None:
            person, region, status = planted
        else:
            roll = rng.random()
            status = "active" if roll < 0.85 else "suspended" if roll < 0.9 else "terminated"
        if person is None:
            person = world.people.new(rng, oldest=oldest, youngest=youngest)
        region = region or _region(rng)
        start = _day(rng, first_start, AS_OF - timedelta(days=60))
        if status.startswith("dead:"):
            status = status[5:]
            last_paid = _planted_death(world, dates, person, region, start, status,
                                       ghost=person.id_number in ghost_ids)  # fmt: skip
        else:
            last_paid = _last_paid(dates, start, status)
        household = _pick(rng, _HOUSEHOLDS)
        address = f"{_PREFIX[region]}{_pick(rng, streets)}{_int(rng, 1, 300)}号"
        if rng.random() < 0.6:
            address += f"{_int(rng, 1, 30)}栋{_int(rng, 1, 7)}0{_int(rng, 1, 5)}室"
        yield (
            person.id_number,
            person.name,
            mobile(rng),
            address,
            household,
            round(household * rng.uniform(420.0, 650.0), 2),
            start.isoformat(),
            status,
            region,
            last_paid.isoformat(),
        )


def _planted_death(
    world: World, rng: random.Random, person: Person, region: str, start: date, status: str,
    *, ghost: bool,
) -> date:  # fmt: skip
    """Plant a recipient's death (for the death register) and count what the models
    on it must find; returns the last payment."""
    died, last_paid = _death(world, rng, start, status)
    world.dead_planted.append((person, region, died, last_paid))
    if (last_paid - died).days >= GRACE_DAYS:
        world.paid_after_death.append(region)
    if ghost:
        world.ghosts_found.append(region)
    return last_paid


def death_registrations(world: World, n: int) -> Iterator[Row]:
    """Death register, with the planted dibao recipients on the dates chosen for them."""
    rng = world.rng("death_registrations")
    slots = rng.sample(range(n), len(world.dead_planted)) if world.dead_planted else []
    at = dict(zip(slots, world.dead_planted, strict=True))
    oldest, youngest = _years_before(100), _years_before(20)
    first_death = date(2015, 1, 1)
    for i in range(n):
        planted = at.get(i)
        if planted is not None:
            person, region, died, _ = planted
        else:
            person = world.people.new(rng, oldest=oldest, youngest=youngest)
            region = _region(rng)
            died = _day(rng, max(first_death, person.birth_date), AS_OF)
        yield (person.id_number, person.name, died.isoformat(), region)


def audit_findings(world: World, n: int) -> Iterator[Row]:
    """Findings of audits of public units."""
    rng = world.rng("audit_findings")
    first = date(AS_OF.year - 4, 1, 1)
    for i in range(n):
        region = _region(rng)
        found = _day(rng, first, AS_OF)
        yield (
            f"SJ{found.year}-{i + 1:07d}",
            _pick(rng, world.pools.employers[region]),
            _pick(rng, AUDIT_CATEGORIES),
            round(rng.lognormvariate(11.0, 1.3), 2),
            _pick(rng, _AUDIT_STATUS_POOL),
            region,
            found.isoformat(),
        )


STREAMS = {
    "payroll": payroll,
    "fund_disbursements": fund_disbursements,
    "dibao_recipients": dibao_recipients,
    "death_registrations": death_registrations,
    "audit_findings": audit_findings,
}
