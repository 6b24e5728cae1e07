"""The live runner's alerts kept up to date event by event: each evaluation costs what
is new (events appended, events ageing out of the day, flags the clock or a baseline
changed), not the day.

The full evaluation (``alerts.compute_alerts`` over the day, ``alert_state.live_alerts``)
stays the reference, and the read path still uses it. This index gives the same alerts
because every rule's alerts split by a key (``audit.alert_specs``) and a key's alerts
are computed by the rule's own function over that key's events alone, grouped by the
same ``alerts.group_findings``: the index only decides *which* keys to redo — those an
added or removed event belongs to, a start whose end arrived or left or whose
``unended_after`` passed, a user whose baseline changed what the baseline rules read.

Cost: a windowed key whose day's tally passes its threshold is rescanned whole when it
changes (a user pulling more than ``bulk_rows_per_hour`` all day is rescanned on each
evaluation that adds or drops one of their deliveries: which windows cross depends on
the day's first event, so the rule's answer itself moves). A per-event alert is only
counted until it is needed whole: when it is new (to open it) or resolved (to split it
at its resolution, ``AlertStates.generations``).

Not thread-safe: the runner calls it under its lock. Events must come in ``seq`` order
(the runner reads them so); the clock may not go back (``behind``: rebuild).
"""

from __future__ import annotations

import heapq
from collections import Counter, defaultdict
from collections.abc import Hashable, Iterable, Iterator, Mapping, Sequence
from dataclasses import replace
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from audit.alert_common import Alert, Event, utc_day, when
from audit.alert_config import AlertConfig
from audit.alert_specs import PER_EVENT, WINDOWED, Context, signature
from audit.alerts import alert_id, end_of, group_findings, start_of
from audit.baseline import Baseline

Item = tuple[str, int, Any]  # ("w" windowed | "e" per-event, spec index, key)
UNENDED = next(i for i, s in enumerate(PER_EVENT) if s.depends == "unended")
BASELINED = tuple(i for i, s in enumerate(PER_EVENT) if s.depends == "baseline")


Adds = Sequence[tuple[Hashable, int]]  # kept and read again: never a generator
Single = tuple[Event, Adds]


class Group:
    """A windowed key's events (by seq, in arrival order) and its tally."""

    __slots__ = ("members", "tally")

    def __init__(self, event: Event, adds: Adds) -> None:
        self.members: dict[int, Event] = {}
        self.tally: dict[Hashable, int] = {}
        self.add(event, adds)

    def add(self, event: Event, adds: Adds) -> None:
        self.members[event["seq"]] = event
        for value, n in adds:
            self.tally[value] = self.tally.get(value, 0) + n

    def remove(self, event: Event, adds: Adds) -> bool:
        """Take ``event`` out; True when the key has no event left."""
        del self.members[event["seq"]]
        for value, n in adds:
            left = self.tally.get(value, 0) - n
            if left:
                self.tally[value] = left
            else:
                self.tally.pop(value, None)
        return not self.members


def tally_of(entry: Single | Group) -> Mapping[Hashable, int]:
    if isinstance(entry, tuple):
        out: dict[Hashable, int] = {}
        for value, n in entry[1]:
            out[value] = out.get(value, 0) + n
        return out
    return entry.tally


class AlertIndex:
    """The alerts of the events fed to ``advance``, keyed for incremental updates."""

    def __init__(self, config: AlertConfig) -> None:
        self.config = config
        self.zone = ZoneInfo(config.timezone)
        self.reset()

    def reset(self) -> None:
        self.events: dict[int, Event] = {}  # the evaluated window, by seq
        self.now: datetime | None = None
        self.ctx = Context(self.config, datetime.min, self.zone)
        self._ages: list[tuple[datetime, int]] = []  # (time, seq): the next to age out
        # per windowed rule and key: its one event with what it adds to the tally (most
        # subject tokens are read once a day: a million keys on a busy day), or a Group
        self._keys: list[dict[str, Single | Group]] = [{} for _ in WINDOWED]
        self._cands: list[dict[tuple[str, date], dict[int, Event]]] = [
            defaultdict(dict) for _ in PER_EVENT
        ]
        self._flagged: list[dict[tuple[str, date], set[int]]] = [
            defaultdict(set) for _ in PER_EVENT
        ]
        self._by_actor: dict[int, dict[str, set[tuple[str, date]]]] = {
            i: defaultdict(set) for i in BASELINED
        }
        self._ended: Counter[tuple[str, Any]] = Counter()
        self._starts: dict[tuple[str, Any], dict[int, Event]] = defaultdict(dict)
        self._due: list[tuple[datetime, int, tuple[str, date]]] = []
        self._baselines: Mapping[str, Baseline] = {}
        # keys to redo, per rule (no tuple per key: a busy day's first load marks millions)
        self._dirty_w: list[set[str]] = [set() for _ in WINDOWED]
        self._dirty_e: list[set[tuple[str, date]]] = [set() for _ in PER_EVENT]
        self._ids: dict[Item, list[str]] = {}
        self._base: dict[str, Item] = {}  # every alert's id (before any split) -> its key
        self._grouped: dict[Item, list[Alert]] = {}

    def behind(self, now: datetime) -> bool:
        """The clock went back since the last ``advance``: ``reset`` and feed again."""
        return self.now is not None and now < self.now

    # -- feeding -----------------------------------------------------------------

    def advance(
        self, fresh: Iterable[Event], start: datetime, now: datetime,
        baselines: Mapping[str, Baseline],
    ) -> None:  # fmt: skip
        """Add ``fresh`` events (all at or after ``start``), drop those older than
        ``start``, take the clock and the baselines, redo the keys this touched."""
        self.ctx = Context(replace(self.config, now=now), now, self.zone, baselines, self._ended)
        for event in fresh:
            self._add(event)
        while self._ages and self._ages[0][0] < start:
            gone = self.events.pop(heapq.heappop(self._ages)[1], None)
            if gone is not None:
                self._remove(gone)
        self._rebaseline(baselines)
        while self._due and self._due[0][0] <= now:
            _due, seq, key = heapq.heappop(self._due)
            start_event = self._cands[UNENDED].get(key, {}).get(seq)
            if start_event is not None:
                self._check(UNENDED, key, start_event)
        self._settle()
        self.now = now

    def _add(self, e: Event) -> None:
        seq = e["seq"]
        self.events[seq] = e
        heapq.heappush(self._ages, (e["_t"], seq))
        for si, spec in enumerate(WINDOWED):
            keys = self._keys[si]
            for key, adds in spec.feed(e):
                found = keys.get(key)
                if found is None:
                    keys[key] = (e, adds)
                else:
                    if isinstance(found, tuple):
                        found = keys[key] = Group(*found)
                    found.add(e, adds)
                self._dirty_w[si].add(key)
        for si, pspec in enumerate(PER_EVENT):
            subject = pspec.subject(e, self.ctx)
            if subject is not None:
                day_key = (subject, utc_day(e))
                self._cands[si][day_key][seq] = e
                if si in self._by_actor:
                    self._by_actor[si][subject].add(day_key)
                self._check(si, day_key, e)
        pair = end_of(e)
        if pair is not None:
            self._ended[pair] += 1
            if self._ended[pair] == 1:
                self._recheck_starts(pair)
        started = start_of(e)
        if started is not None:
            self._starts[started][seq] = e

    def _remove(self, e: Event) -> None:
        seq = e["seq"]
        for si, spec in enumerate(WINDOWED):
            keys = self._keys[si]
            for key, adds in spec.feed(e):
                found = keys[key]
                if isinstance(found, tuple) or found.remove(e, adds):
                    del keys[key]
                self._dirty_w[si].add(key)
        for si, pspec in enumerate(PER_EVENT):
            subject = pspec.subject(e, self.ctx)
            if subject is None:
                continue
            day_key = (subject, utc_day(e))
            cands, flagged = self._cands[si], self._flagged[si]
            del cands[day_key][seq]
            flagged[day_key].discard(seq)
            if not cands[day_key]:
                del cands[day_key], flagged[day_key]
                if si in self._by_actor:
                    self._by_actor[si][subject].discard(day_key)
            self._dirty_e[si].add(day_key)
        pair = end_of(e)
        if pair is not None:
            self._ended[pair] -= 1
            if not self._ended[pair]:
                del self._ended[pair]
                self._recheck_starts(pair)
        started = start_of(e)
        if started is not None:
            del self._starts[started][seq]
            if not self._starts[started]:
                del self._starts[started]

    def _check(self, si: int, key: tuple[str, date], e: Event) -> None:
        """Flag or unflag one candidate as its rule sees it now."""
        flagged = self._flagged[si][key]
        now_flag = PER_EVENT[si].check(e, self.ctx)
        if now_flag != (e["seq"] in flagged):
            (flagged.add if now_flag else flagged.discard)(e["seq"])
            self._dirty_e[si].add(key)
        if si == UNENDED and not now_flag and start_of(e) not in self._ended:
            due = when(e) + self.config.unended_after  # flagged then, if still unended
            heapq.heappush(self._due, (due, e["seq"], key))

    def _recheck_starts(self, pair: tuple[str, Any]) -> None:
        for e in list(self._starts.get(pair, {}).values()):
            subject = PER_EVENT[UNENDED].subject(e, self.ctx)
            if subject is not None:
                self._check(UNENDED, (subject, utc_day(e)), e)

    def _rebaseline(self, baselines: Mapping[str, Baseline]) -> None:
        """Users whose baseline changed what the baseline rules read: every candidate
        of theirs checked again, their alerts redone (summaries name the baseline)."""
        old = self._baselines
        for user in old.keys() | baselines.keys():
            before, after = old.get(user), baselines.get(user)
            if before is after or signature(before) == signature(after):
                continue
            for si in BASELINED:
                for key in list(self._by_actor[si].get(user, ())):
                    self._dirty_e[si].add(key)
                    for e in list(self._cands[si][key].values()):
                        self._check(si, key, e)
        self._baselines = baselines

    # -- alerts ------------------------------------------------------------------

    def _settle(self) -> None:
        for si, dirty in enumerate(self._dirty_w):
            for key in dirty:
                self._forget(("w", si, key))
                found = self._keys[si].get(key)
                if found is None or WINDOWED[si].settled(tally_of(found), self.config):
                    continue  # most keys: no window can pass the threshold
                self._keep(("w", si, key), [a["id"] for a in self._materialise(("w", si, key))])
            dirty.clear()
        for si, dirty_days in enumerate(self._dirty_e):
            for day_key in dirty_days:
                self._forget(("e", si, day_key))
                if self._flagged[si].get(day_key):
                    aid = alert_id(PER_EVENT[si].rule, day_key[0], day_key[1].isoformat())
                    self._keep(("e", si, day_key), [aid])
            dirty_days.clear()

    def _forget(self, item: Item) -> None:
        for aid in self._ids.pop(item, ()):
            if self._base.get(aid) == item:
                del self._base[aid]
        self._grouped.pop(item, None)

    def _keep(self, item: Item, ids: list[str]) -> None:
        if ids:
            self._ids[item] = ids
        for aid in ids:
            self._base[aid] = item

    def _materialise(self, item: Item) -> list[Alert]:
        """One key's alerts in full, as ``compute_alerts`` groups them (kept until the
        key changes)."""
        cached = self._grouped.get(item)
        if cached is not None:
            return cached
        kind, si, key = item
        if kind == "w":
            spec = WINDOWED[si]
            entry = self._keys[si].get(key)
            if entry is None or spec.settled(tally_of(entry), self.config):
                found = []
            else:
                subset = [entry[0]] if isinstance(entry, tuple) else list(entry.members.values())
                found = group_findings(spec.run(subset, self.ctx.cfg, key), self.events)
        else:
            subset = [self.events[s] for s in sorted(self._flagged[si].get(key, ()))]
            found = group_findings(PER_EVENT[si].run(subset, self.ctx), self.events)
        self._grouped[item] = found
        return found

    def ids(self) -> list[str]:
        """Every alert's id before resolutions split it (``alert``)."""
        return list(self._base)

    def alert(self, aid: str) -> Alert:
        """One alert in full (before resolutions split it)."""
        return next(a for a in self._materialise(self._base[aid]) if a["id"] == aid)

    def alerts(self) -> Iterator[Alert]:
        """Every alert in full (the equivalence tests compare them with the full
        evaluation's; the runner asks only for those it opens or splits)."""
        for aid in self.ids():
            yield self.alert(aid)
