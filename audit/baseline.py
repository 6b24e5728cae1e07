"""A per-user baseline of when and where each user usually reads data, learned from
that user's own history in the trail, and the two rules that compare new accesses
with it.

How the baseline is learned: every *delivery* on record (``query.completed`` or
``query.aborted`` whose rows left, see ``alert_common.delivered``) adds to its user's
counters for its UTC day: one access at its local hour of day (in the alert timezone)
and one per county code in ``details.counties`` (the counties of the rows sent, which
the broker records). The baseline of a user is the sum of those day counters over the
``baseline_days`` days *before* the evaluated window, so an access is never compared
with itself. ``BaselineBook`` keeps only these counters (users × days × 24 hours and
the counties seen), never events, so a month of history costs little memory.

When an access is unusual:

- hours: no access of the baseline fell within an hour of its local time of day
  (the hour before, the same hour, the hour after: a user who works 8–18 is not flagged
  at 18:30, is at 03:00);
- counties: it sent rows of a county the user never received rows of in the baseline
  (only when the baseline holds counties at all).

A user whose baseline has fewer than ``min_events`` accesses or fewer than ``min_days``
active days is never flagged: a new user has no "usual" yet.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta
from zoneinfo import ZoneInfo

from audit.alert_common import (
    COUNT,
    Alert,
    Event,
    actor_of,
    delivered,
    details_of,
    finding,
    per_key_and_day,
    utc_day,
    when,
)

MAX_COUNTIES = 64
"""Counties counted per event (the broker records at most this many)."""


@dataclass
class Baseline:
    """One user's history: accesses, active days, accesses per local hour, counties."""

    events: int = 0
    days: int = 0
    hours: Counter[int] = field(default_factory=Counter)
    counties: Counter[str] = field(default_factory=Counter)

    def usual_hour(self, hour: int) -> bool:
        return any(self.hours[(hour + d) % 24] for d in (-1, 0, 1))


def counties_of(event: Event) -> list[str]:
    found = details_of(event).get("counties")
    if not isinstance(found, list):
        return []
    return [str(c) for c in found[:MAX_COUNTIES] if isinstance(c, str | int)]


class BaselineBook:
    """Per user and UTC day: accesses by local hour and counties (the raw material of
    baselines). ``add`` the deliveries older than the evaluated window; ``baselines``
    sums the last ``days`` days of it. Not thread-safe: one owner (the alert runner)."""

    def __init__(self, *, timezone: str, days: int, min_events: int, min_days: int) -> None:
        self.zone = ZoneInfo(timezone)
        self.days = days
        self.min_events = min_events
        self.min_days = min_days
        self._book: dict[str, dict[date, Baseline]] = defaultdict(dict)
        # each user's summed baseline as of ``_day`` (None: not enough history), kept
        # between calls and redone only for the users ``add`` or ``prune`` touched: the
        # live runner asks on every evaluation, and a month of users is not what is new
        self._cache: dict[str, Baseline | None] = {}
        self._day: date | None = None
        self._touched: set[str] = set()

    def add(self, event: Event) -> None:
        if not delivered(event) or not str(event.get("type", "")).startswith("query."):
            return
        day = utc_day(event)
        self._touched.add(actor_of(event))
        entry = self._book[actor_of(event)].setdefault(day, Baseline(days=1))
        entry.events += 1
        entry.hours[when(event).astimezone(self.zone).hour] += 1
        entry.counties.update(counties_of(event))

    def extend(self, events: Iterable[Event]) -> None:
        for event in events:
            self.add(event)

    def prune(self, today: date) -> None:
        """Forget days older than the baseline period."""
        oldest = today - timedelta(days=self.days)
        for user in list(self._book):
            days = self._book[user]
            for day in [d for d in days if d < oldest]:
                del days[day]
                self._touched.add(user)
            if not days:
                del self._book[user]

    def baselines(self, today: date) -> dict[str, Baseline]:
        """Users with enough history, their counters summed over the baseline period.
        A user's ``Baseline`` is the same object from call to call until their history
        changes (``audit.alert_index`` tells changed baselines apart by identity)."""
        if today != self._day:
            self._cache, self._day = {}, today
            users: Iterable[str] = list(self._book)
        else:
            users = self._touched
        for user in users:
            self._cache[user] = self._summed(user, today)
        self._touched = set()
        return {user: base for user, base in self._cache.items() if base is not None}

    def _summed(self, user: str, today: date) -> Baseline | None:
        oldest = today - timedelta(days=self.days)
        total = Baseline()
        for day, entry in self._book.get(user, {}).items():
            if day < oldest:
                continue
            total.events += entry.events
            total.days += 1
            total.hours.update(entry.hours)
            total.counties.update(entry.counties)
        if total.events >= self.min_events and total.days >= self.min_days:
            return total
        return None


def hours_candidate(e: Event) -> bool:
    """A delivery the hour rule compares with its user's baseline."""
    return delivered(e) and str(e.get("type")).startswith("query.")


def odd_hour(e: Event, zone: ZoneInfo, baselines: Mapping[str, Baseline]) -> bool:
    """A delivery at an hour its user's baseline never shows (users with one)."""
    base = baselines.get(actor_of(e))
    if base is None or not hours_candidate(e):
        return False
    return not base.usual_hour(when(e).astimezone(zone).hour)


def unseen_counties(e: Event, baselines: Mapping[str, Baseline]) -> set[str]:
    """The counties of a delivery its user's baseline never shows (users with one)."""
    base = baselines.get(actor_of(e))
    if base is None or not base.counties or not delivered(e):
        return set()
    return set(counties_of(e)) - set(base.counties)


def unusual_hours(
    events: list[Event], timezone: str, baselines: Mapping[str, Baseline]
) -> list[Alert]:
    zone = ZoneInfo(timezone)

    def odd(e: Event) -> str | None:
        return actor_of(e) if odd_hour(e, zone, baselines) else None

    return [
        finding(
            "unusual_hours",
            "medium",
            actor,
            f"{COUNT} accesses at an hour this user never worked in the last "
            f"{baselines[actor].days} active days ({timezone})",
            [[s] for s in seqs],
        )
        for (actor, _day), seqs in per_key_and_day(events, odd).items()
    ]


def unusual_counties(events: list[Event], baselines: Mapping[str, Baseline]) -> list[Alert]:
    new: dict[tuple[str, date], set[str]] = defaultdict(set)

    def odd(e: Event) -> str | None:
        unseen = unseen_counties(e, baselines)
        if not unseen:
            return None
        new[(actor_of(e), utc_day(e))].update(unseen)
        return actor_of(e)

    flagged = per_key_and_day(events, odd)
    return [
        finding(
            "unusual_counties",
            "medium",
            actor,
            f"{COUNT} accesses to counties this user never read before: "
            f"{', '.join(sorted(new[(actor, day)])[:10])}",
            [[s] for s in seqs],
        )
        for (actor, day), seqs in flagged.items()
    ]
