"""Each alert rule seen by the incremental runner (``audit.alert_index``): which keys an
event touches, and how one key's findings are computed — by the rule's own function
over that key's events only, so a key's alerts are the full evaluation's, by
construction.

Every rule's alerts split by a key that no other key's events reach (the alert's
subject, and for the per-event rules its UTC day), which is what lets the runner redo
only the keys the new or ageing events touch:

- *windowed* rules (bulk pulls, denials, departments, source errors, and the two
  subject-token rules) keep per key a tally of what a window could add up to (rows,
  events, distinct values): a key whose whole day stays within the threshold has no
  window that passes it, and is settled without a scan (as ``alert_subjects`` already
  settles a token by one set);
- *per-event* rules flag single events, one alert per subject and day; a flag depends
  on the event alone (``static``), on whether its request's end is on record and on the
  clock (``unended``), or on its user's baseline (``baseline``).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from audit import alerts
from audit.alert_common import Alert, Event, actor_of, delivered, details_of
from audit.alert_config import AlertConfig
from audit.alert_subjects import (
    DELIVERIES,
    actor_tuple,
    departments_of,
    person_many_departments,
    same_person_many_users,
)
from audit.baseline import Baseline, hours_candidate, odd_hour, unseen_counties, unusual_counties
from audit.baseline import unusual_hours as baseline_hours

TOTAL, UNCOUNTABLE = "\x00total", "\x00uncountable"


@dataclass
class Context:
    """What an evaluation's flags read besides the event: thresholds, the clock, the
    ends on record (a count per ``(kind, request_id)``) and the users' baselines."""

    cfg: AlertConfig
    now: datetime
    zone: ZoneInfo
    baselines: Mapping[str, Baseline] = field(default_factory=dict)
    ended: Mapping[tuple[str, Any], int] = field(default_factory=dict)


@dataclass(frozen=True)
class Windowed:
    """A sliding-window rule: ``feed`` gives the keys of an event it reads (its
    subjects), each with what the event adds to that key's tally; the threshold no
    window passes when the tally's bound does not; the rule run over one key's events."""

    rule: str
    feed: Callable[[Event], Iterable[tuple[str, Sequence[tuple[Hashable, int]]]]]
    distinct: bool  # the bound is the number of distinct values, else the TOTAL
    threshold: Callable[[AlertConfig], float]
    run: Callable[[list[Event], AlertConfig, str], list[Alert]]

    def settled(self, tally: Mapping[Hashable, int], cfg: AlertConfig) -> bool:
        """No window of this key can pass the threshold (so the rule finds nothing)."""
        if self.distinct:
            return len(tally) <= self.threshold(cfg)
        return UNCOUNTABLE not in tally and tally.get(TOTAL, 0) <= self.threshold(cfg)


@dataclass(frozen=True)
class PerEvent:
    """A rule flagging single events: ``subject`` of a candidate event (None: not a
    candidate), ``check`` of a candidate's flag when it depends on more than the event
    (``static`` rules flag every candidate), and the rule over one key's flagged
    events. Its alerts' key is ``(subject, UTC day)``."""

    rule: str
    depends: str  # "static", "unended" or "baseline"
    subject: Callable[[Event, Context], str | None]
    check: Callable[[Event, Context], bool]
    run: Callable[[list[Event], Context], list[Alert]]


Feed = Callable[[Event], Iterable[tuple[str, Sequence[tuple[Hashable, int]]]]]


def _by_actor(test: Callable[[Event], bool], tally: Callable[[Event], Hashable] | None) -> Feed:
    """Events passing ``test``, keyed by actor; ``tally``: the distinct value counted,
    or None to count rows (``_rows``) — the rule's weight decides which."""

    def feed(e: Event) -> Iterable[tuple[str, Sequence[tuple[Hashable, int]]]]:
        if not test(e):
            return ()
        return ((actor_of(e), _rows(e) if tally is None else [(tally(e), 1)]),)

    return feed


def _rows(e: Event) -> list[tuple[Hashable, int]]:
    weight = e.get("rows") or 0
    # windows add rows as they come; only whole, non-negative rows bound every window
    if type(weight) is int and weight >= 0:
        return [(TOTAL, weight)]
    return [(UNCOUNTABLE, 1)]


def _source(e: Event) -> Iterable[tuple[str, Sequence[tuple[Hashable, int]]]]:
    if e.get("type") != "query.failed":
        return ()
    source = details_of(e).get("source_id") or e.get("resource")
    return () if source is None else ((str(source), [(TOTAL, 1)]),)


def _tokens(values: Callable[[Event], tuple[str, ...]]) -> Feed:
    """The tokens a delivery adds lookups to (as ``lookups_by_token`` reads them), each
    with the values it counts there (once per time the token is listed)."""

    def feed(e: Event) -> Iterable[tuple[str, Sequence[tuple[Hashable, int]]]]:
        if e.get("type") not in DELIVERIES or not delivered(e):
            return ()
        tokens = details_of(e).get("subject_tokens") or ()
        these = values(e) if tokens else ()
        if not these:
            return ()
        times = Counter(str(t) for t in tokens)
        shared: dict[int, list[tuple[Hashable, int]]] = {}  # one list for all tokens
        for n in set(times.values()):
            shared[n] = [(v, n) for v in these]
        return [(t, shared[n]) for t, n in times.items()]

    return feed


def _departments_read(e: Event) -> bool:
    return e.get("type") in alerts.QUERY_TYPES and bool(details_of(e).get("resource_dept"))


def _one_count(_e: Event) -> Hashable:
    return TOTAL


WINDOWED: tuple[Windowed, ...] = (
    Windowed("bulk_pull", _by_actor(delivered, None), False,
             lambda c: c.bulk_rows_per_hour, lambda ev, c, _k: alerts.bulk_pulls(ev, c)),
    Windowed("repeated_denials", _by_actor(lambda e: e.get("outcome") == "denied", _one_count),
             False, lambda c: c.denials_per_hour,
             lambda ev, c, _k: alerts.repeated_denials(ev, c)),
    Windowed("many_departments",
             _by_actor(_departments_read, lambda e: details_of(e)["resource_dept"]), True,
             lambda c: c.departments_per_hour, lambda ev, c, _k: alerts.many_departments(ev, c)),
    Windowed("source_errors", _source, False,
             lambda c: c.source_errors_per_hour, lambda ev, c, _k: alerts.source_errors(ev, c)),
    Windowed("same_person_many_users", _tokens(actor_tuple), True,
             lambda c: c.users_per_subject_per_day, same_person_many_users),
    Windowed("person_many_departments", _tokens(departments_of),
             True, lambda c: c.person_departments_per_day, person_many_departments),
)  # fmt: skip


def _below(e: Event, _ctx: Context) -> str | None:
    return str(e.get("resource")) if alerts.below_level(e) is not None else None


def _start(e: Event, _ctx: Context) -> str | None:
    return actor_of(e) if alerts.start_of(e) is not None else None


def _unended(e: Event, ctx: Context) -> bool:
    return alerts.unended(e, ctx.ended, ctx.now, ctx.cfg)


def _always(_e: Event, _ctx: Context) -> bool:
    return True


PER_EVENT: tuple[PerEvent, ...] = (
    PerEvent("outside_working_hours", "static", lambda e, x: alerts.off_hours(e, x.cfg, x.zone),
             _always, lambda ev, x: alerts.outside_hours(ev, x.cfg)),
    PerEvent("sensitive_without_case", "static", lambda e, x: alerts.without_case(e, x.cfg),
             _always, lambda ev, x: alerts.missing_case_reference(ev, x.cfg)),
    PerEvent("below_suggested_level", "static", _below, _always,
             lambda ev, x: alerts.below_suggested_level(ev, x.cfg)),
    PerEvent("own_records", "static", lambda e, _x: alerts.own_record(e), _always,
             lambda ev, x: alerts.own_records(ev, x.cfg)),
    PerEvent("query_never_ended", "unended", _start, _unended,
             lambda ev, x: alerts.unended_starts(ev, x.cfg)),
    PerEvent("unusual_hours", "baseline",
             lambda e, _x: actor_of(e) if hours_candidate(e) else None,
             lambda e, x: odd_hour(e, x.zone, x.baselines),
             lambda ev, x: baseline_hours(ev, x.cfg.timezone, x.baselines)),
    PerEvent("unusual_counties", "baseline", lambda e, _x: actor_of(e) if delivered(e) else None,
             lambda e, x: bool(unseen_counties(e, x.baselines)),
             lambda ev, x: unusual_counties(ev, x.baselines)),
)  # fmt: skip


def signature(base: Baseline | None) -> tuple[Any, ...] | None:
    """What the baseline rules read of a user's baseline: a user whose signature is
    unchanged keeps every flag (and summary) of those rules."""
    if base is None:
        return None
    hours = frozenset(h for h, n in base.hours.items() if n)
    return (base.days, hours, frozenset(base.counties))
