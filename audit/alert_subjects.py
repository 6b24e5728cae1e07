"""Who looked up whom: the two rules over the subject tokens of deliveries.

Every delivery (``query.completed``, ``comparison.completed`` whose rows left, a
re-identification's ``reidentification.released``) names
the keyed tokens of the ID numbers it returned, so one event stands for as many
lookups as it has rows: a day of small queries is tens of thousands of (token,
delivery) pairs, and the live runner evaluates the day every second under load. The
pairs are therefore plain tuples pointing at the event — never a copy of the event per
token (that copy, twice, was most of the gateway's CPU under a steady query load,
found by ``bench.profile --gil``) — each event's time, actor and departments derived
once, and sorted by ``(ts, seq)`` as ``alert_common.windows`` sorts its groups, so the
occurrences are the same.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Hashable, Sequence
from datetime import datetime, timedelta
from operator import itemgetter

from audit.alert_common import (
    RELEASED,
    Alert,
    Event,
    actor_of,
    delivered,
    details_of,
    distinct_windows,
    finding,
    when,
)
from audit.alert_config import AlertConfig

# a re-identification's release names the people it identified in clear (red team 51)
DELIVERIES = ("query.completed", "comparison.completed", RELEASED)
DAY = timedelta(days=1)

# one lookup: the delivery's ts, seq, time, actor, and the value counted (a user or a
# department); the event itself is not needed by the findings
Lookup = tuple[str, int, datetime, str, str]
_ORDER = itemgetter(0, 1)  # (ts, seq): the order ``windows`` sorts a group in
_VALUE = itemgetter(4)


def departments_of(e: Event) -> tuple[str, ...]:
    """The departments whose data a delivery came from (a comparison names both)."""
    details = details_of(e)
    many = details.get("resource_depts")
    if isinstance(many, list) and many:
        return tuple(sorted(str(d) for d in many))
    one = details.get("resource_dept")
    return (str(one),) if one else ()


def lookups_by_token(
    events: Sequence[Event], values: Callable[[Event], Sequence[str]], only: str | None = None
) -> dict[Hashable, list[Lookup]]:
    """Per subject token, one entry per (delivery carrying it, value of ``values``), in
    event order (sorted by ``_crossings`` when needed); a delivery with no value adds
    nothing. ``only``: the tokens spelt so alone (the live runner's one dirty token)."""
    groups: dict[Hashable, list[Lookup]] = defaultdict(list)
    for e in events:
        if e.get("type") not in DELIVERIES or not delivered(e):
            continue
        tokens = details_of(e).get("subject_tokens") or ()
        these = values(e) if tokens else ()
        if not these:
            continue
        ts, seq, t, who = e["ts"], e["seq"], when(e), actor_of(e)
        entries = [(ts, seq, t, who, v) for v in these]
        for token in tokens:
            if only is None or str(token) == only:
                groups[token].extend(entries)
    return groups


def _crossings(
    events: Sequence[Event], values: Callable[[Event], Sequence[str]], threshold: int,
    only: str | None = None,
) -> list[tuple[Hashable, list[Lookup], float]]:  # fmt: skip
    """Per token, every day-long window with more than ``threshold`` distinct values."""
    hits: list[tuple[Hashable, list[Lookup], float]] = []
    for token, group in lookups_by_token(events, values, only).items():
        # no window holds more distinct values than the whole day: most tokens (a person
        # looked up by one user, from one department) are settled by one set, in C
        if len(set(map(_VALUE, group))) <= threshold:
            continue
        group.sort(key=_ORDER)  # stable: one event's entries keep their order
        times = [entry[2] for entry in group]
        found = distinct_windows(group, times, _VALUE, threshold, DAY)
        hits.extend((token, members, n) for members, n in found)
    return hits


def actor_tuple(e: Event) -> tuple[str]:
    """The value ``same_person_many_users`` counts: the delivery's user."""
    return (actor_of(e),)


def same_person_many_users(
    events: list[Event], cfg: AlertConfig, only: str | None = None
) -> list[Alert]:
    """One person's records (by token) pulled by many users in a day."""
    return [
        finding(
            "same_person_many_users",
            "high",
            None,
            f"records of subject {str(token)[:12]}… pulled by {int(n)} users in a day",
            [[entry[1] for entry in members]],
            subject=str(token),
        )
        for token, members, n in _crossings(
            events, actor_tuple, cfg.users_per_subject_per_day, only
        )
    ]


def person_many_departments(
    events: list[Event], cfg: AlertConfig, only: str | None = None
) -> list[Alert]:
    """One person looked up across many departments within a day: the records of one
    subject token delivered from more than ``person_departments_per_day`` departments'
    data (by anyone), the pattern of someone assembling a profile of a person."""
    out = []
    for token, members, n in _crossings(
        events, departments_of, cfg.person_departments_per_day, only
    ):
        who = sorted({entry[3] for entry in members})
        out.append(
            finding(
                "person_many_departments",
                "high",
                who[0] if len(who) == 1 else None,
                f"records of subject {str(token)[:12]}… read from {int(n)} departments' data in a "
                f"day by {', '.join(who)}",
                [[entry[1] for entry in members]],
                subject=str(token),
            )
        )
    return out
