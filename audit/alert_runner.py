"""The alert rule runner: rules evaluated as events are appended, new alerts opened
and queued for their channels within seconds — whether or not any channel is set.

The audit writer calls ``notify`` after each durable batch (``AuditLog.on_commit``):
a ``threading.Event.set``, nothing more, so an append never waits for a rule. The
runner's own thread then lets a burst settle (``settle_s``), reads the events appended
since it last looked, and brings the rules' alerts over the last day up to date
(``audit.alert_index``: only the keys the new and ageing events touch are redone, with
the same alerts as every rule run over the whole day — ``live_alerts``, which the read
path still calls; ``tests/audit/test_alert_incremental.py`` holds the two equal). It
also wakes every ``interval_s`` to notice a seal (the monitor seals without appending)
and re-evaluates at least every ``rescan_s`` for rules that fire on time passing (a
start with no end).
Under a steady stream of appends it evaluates at most once per ``min_gap_s``, and never
spends more than ``max_share`` of its time evaluating (``gap_after``): an evaluation
that took 0.3 s is followed by 3 s without one, so a busy day's evaluations never take
the CPU from the queries they watch (a slower alert, not a lost one: every evaluation
covers every event of the day).

Memory and cost: the runner keeps the last day's events, trimmed to what rules read
(``DETAIL_KEYS``), their index by rule and key, and the per-user baseline counters
(``audit.baseline``); an evaluation costs what is new, plus a rescan of each windowed
key past its threshold that changed (see ``audit.alert_index``). Reading is
incremental (by seq), except after an unseal, when the chain continues from an older
head and the cache and the index are rebuilt (so are the index alone after a failed
evaluation or a clock that went back).

A new alert (an id not opened before, still ``open``) is recorded as opened in the
alert state file and queued in the outbox once per channel; ``AlertPusher`` sends it.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import structlog

from audit.alert_common import Alert, Event, rule_view
from audit.alert_index import AlertIndex
from audit.alert_outbox import outbox
from audit.alert_push import AlertChannel, AlertPusher
from audit.alert_state import alert_states, current_alerts, find_alert, public, sealed_alert
from audit.alerts import AlertConfig
from audit.baseline import BaselineBook
from audit.search import EventFilter, present
from catalog.errors import Unavailable

log = structlog.get_logger("sluice.alerts")

WINDOW = timedelta(days=1)
DELIVERY_TYPES = ("query.completed", "query.aborted")


def _slim_row(row: tuple[Any, ...]) -> Event | None:
    """``slim`` of a stored row, or None for one no gateway wrote (not a JSON object, no
    time): the monitor's walk seals on it; failing the whole evaluation on it kept the
    seal's own alert from being opened and pushed (red team 18)."""
    try:
        event = present(*row)
    except (KeyError, TypeError, ValueError, AttributeError):
        return None
    return rule_view(event)


def gap_after(cost_s: float, *, min_gap_s: float, max_share: float) -> float:
    """The least time between the ends of two evaluations under steady appends: at
    least ``min_gap_s``, and long enough that one costing ``cost_s`` takes no more than
    ``max_share`` of the runner's time."""
    return max(min_gap_s, cost_s / max_share)


class AlertRunner:
    """Evaluates the rules of one gateway process; ``start()``, ``stop()``."""

    def __init__(
        self,
        audit_log: Any,
        *,
        config: AlertConfig | None = None,
        channels: Sequence[AlertChannel] = (),
        pusher: AlertPusher | None = None,
        interval_s: float = 2.0,
        settle_s: float = 0.2,
        min_gap_s: float = 1.0,
        rescan_s: float = 30.0,
        max_share: float = 0.1,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.log = audit_log
        self.config = config or AlertConfig()
        self.channels = [c.name for c in channels]
        self.pusher = pusher
        self.interval_s, self.settle_s, self.rescan_s = interval_s, settle_s, rescan_s
        self.min_gap_s = min_gap_s
        self.max_share = max_share
        self.clock = clock
        self.states = alert_states(audit_log.home)
        self.outbox = outbox(audit_log.home)
        self.book = self._new_book()
        self._events: deque[Event] = deque()
        self._fresh: list[Event] = []  # read since the index last advanced
        self.index = AlertIndex(self.config)
        self._rebuild = True
        self._last_seq = 0
        self._epoch: int | None = None
        self._lock = threading.Lock()  # one evaluation at a time (thread, tests, reads)
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="sluice-alert-rules", daemon=True)
        self.evaluations = 0
        # when the evaluation under way began (None between them): the rule process's
        # beat is this time while it lasts, so one stuck (a lock of the state file held,
        # a read that hangs) ages as a dead one does (red team 23)
        self.busy_since: datetime | None = None
        # when the first of the evaluations failing in a row began (None once one
        # succeeds): the beat is no later, so a rule process failing on every run (its
        # state file unreadable, a store it cannot read) ages too (red team 24)
        self.failing_since: datetime | None = None
        # a reader beside a runner in another process (``SLUICE_ALERT_RUNNER=external``):
        # never started here, it brings its baselines up to date on each read instead
        self.reads_itself = False

    def _new_book(self) -> BaselineBook:
        cfg = self.config
        return BaselineBook(
            timezone=cfg.timezone,
            days=cfg.baseline_days,
            min_events=cfg.baseline_min_events,
            min_days=cfg.baseline_min_days,
        )

    # -- lifecycle ---------------------------------------------------------------

    def notify(self, _seq: int = 0) -> None:
        """The writer's listener: a wake-up only (the writer calls it after every
        commit; a wake-up already pending needs no second ``set``, which takes a lock)."""
        if not self._wake.is_set():
            self._wake.set()

    @property
    def running(self) -> bool:
        """Whether the rule thread is alive (started, not ended)."""
        return self._thread.is_alive()

    def start(self) -> AlertRunner:
        self.log.on_commit(self.notify)
        if self.pusher is not None:
            self.pusher.start()
        self._thread.start()
        self._wake.set()  # a first evaluation at start (alerts of before the restart)
        return self

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread.is_alive():
            self._thread.join(timeout=15)
        if self.pusher is not None:
            self.pusher.stop()

    def _run(self) -> None:
        last = 0.0
        gap = self.min_gap_s
        sealed = bool(self.log.seal.sealed)
        while not self._stop.is_set():
            woken = self._wake.wait(self.interval_s)
            if self._stop.is_set():
                break
            if woken:
                # let a burst land first; under steady load evaluate at most once per
                # ``gap`` (each evaluation is linear in the day's events)
                self._stop.wait(max(self.settle_s, gap - (time.monotonic() - last)))
                self._wake.clear()
            now_sealed = bool(self.log.seal.sealed)
            stale = time.monotonic() - last >= self.rescan_s
            if not (woken or stale or now_sealed != sealed):
                continue
            sealed = now_sealed
            began = time.monotonic()
            try:
                self.evaluate()
            except Exception as exc:  # keep running; the next wake-up retries
                log.warning("alert_evaluation_failed", error=type(exc).__name__)
            last = time.monotonic()
            gap = gap_after(last - began, min_gap_s=self.min_gap_s, max_share=self.max_share)

    # -- evaluation --------------------------------------------------------------

    def evaluate(self) -> list[Alert]:
        """Read what is new, bring the alerts up to date, open and queue new ones
        (returned)."""
        with self._lock:
            began = self.busy_since = datetime.now(UTC)
            try:
                now = self.clock()
                self._load(now)
                self._advance(now)
                self.evaluations += 1
                opened = self.states.opened()
                # built whole before any is opened: an opening re-reads the state file
                found = list(self._found(opened))
                new = [alert for alert in found if self._opens(alert, opened)]
            except BaseException:
                self.failing_since = self.failing_since or began
                raise
            finally:
                self.busy_since = None
            self.failing_since = None
        if new and self.pusher is not None:
            self.pusher.wake()
        return new

    def _advance(self, now: datetime) -> None:
        """Feed the index what is new (everything again after an unseal, a failed
        evaluation or a clock that went back)."""
        start = now - WINDOW
        fresh, self._fresh = self._fresh, []
        if self._rebuild or self.index.behind(now):
            self.index.reset()
            fresh = [e for e in self._events if e["_t"] >= start]
        self._rebuild = True  # until this advance completes
        self.index.advance(fresh, start, now, self.book.baselines(now.date()))
        self._rebuild = False

    def _found(self, opened: set[str]) -> Iterator[Alert]:
        """The alerts ``live_alerts`` returns that may need opening: the seal, the
        generations of resolved alerts, and alerts not opened yet — each built whole
        only then (``AlertIndex.alert``)."""
        sealed = sealed_alert(self.log)
        if sealed is not None:
            yield sealed
        resolved = self.states.resolved()
        for aid in self.index.ids():
            if aid in resolved:
                yield from self.states.generations(self.index.alert(aid))
            elif aid not in opened and self.states.state(aid)["state"] == "open":
                # unresolved: its own single generation; one acknowledged before it was
                # opened stays unopened, as in the full evaluation — not rebuilt for that
                yield from self.states.generations(self.index.alert(aid))

    def _opens(self, alert: Alert, opened: set[str]) -> bool:
        """Open ``alert`` and queue it for the channels, unless already opened or moved."""
        aid = alert["id"]
        if aid in opened or self.states.state(aid)["state"] != "open":
            return False
        if not self.states.open(alert):
            return False  # another process over this home opened it first
        if self.channels:
            self.outbox.enqueue(public(alert), self.channels)
        log.info("alert_opened", alert=aid, rule=alert["rule"], severity=alert["severity"])
        return True

    def live(self) -> list[Alert]:
        """What ``live_alerts`` gives for the runner's window as of its last evaluation,
        from the index (the equivalence tests compare the two)."""
        with self._lock:
            states = self.states
            found = [part for a in self.index.alerts() for part in states.generations(a)]
            sealed = sealed_alert(self.log)
            return ([sealed] if sealed is not None else []) + found

    def _load(self, now: datetime) -> None:
        epoch = self.log.seal.epoch.number
        if epoch != self._epoch:  # first load, or an unseal: seqs continue from the anchor
            self._rebuild = True
            self._last_seq = 0
            self._events.clear()
            self.book = self._new_book()
            history = EventFilter(
                since=now - WINDOW - timedelta(days=self.config.baseline_days), until=now - WINDOW
            )
            self.book.extend(self._scan(history, DELIVERY_TYPES))
            self._scan_new(EventFilter(since=now - WINDOW), now - WINDOW)
            self._epoch = epoch  # only once both reads succeeded
        else:
            self._scan_new(EventFilter(from_seq=self._last_seq + 1), now - WINDOW)
        start = now - WINDOW
        while self._events and self._events[0]["_t"] < start:
            self.book.add(self._events.popleft())  # aged out of the window: history now
        self.book.prune(now.date())

    def _scan_new(self, filters: EventFilter, start: datetime) -> None:
        for event in self._scan(filters, None):
            self._last_seq = max(self._last_seq, event["seq"])
            if event["_t"] < start:  # appended with an older time (an import): history
                self.book.add(event)
            else:
                self._events.append(event)
                self._fresh.append(event)

    def _scan(self, filters: EventFilter, types: tuple[str, ...] | None) -> list[Event]:
        store = self.log.store
        where, params = filters.where(store.p)
        if types:
            where += f" AND type IN ({', '.join([store.p] * len(types))})"
            params = [*params, *types]
        sql = f"SELECT seq, prev_hash, hash, body FROM audit_events WHERE {where} ORDER BY seq"
        out: list[Event] = []
        with store.reading() as conn:  # Unavailable if the store is down: next time
            try:
                for rows in store.stream(conn, sql, params, 5000):
                    out.extend(event for event in map(_slim_row, rows) if event is not None)
            except store.driver_errors as exc:
                raise Unavailable(f"audit store failed: {type(exc).__name__}") from None
        return out

    # -- the read path -----------------------------------------------------------

    def current(self, since: datetime | None = None, until: datetime | None = None) -> list[Alert]:
        """``GET /api/v1/audit/alerts``: the same rules and baselines as the runner."""
        return current_alerts(
            self.log, since, until, config=self.config, baselines=self.baselines()
        )

    def find(self, aid: str) -> Alert | None:
        return find_alert(self.log, aid, config=self.config, baselines=self.baselines())

    def baselines(self) -> Any:
        with self._lock:
            now = self.clock()
            if self.reads_itself:
                self._load(now)
                self._fresh.clear()  # no index here to feed: the other process has it
            return self.book.baselines(now.date())


def list_alerts(
    audit_log: Any, since: datetime | None = None, until: datetime | None = None
) -> list[Alert]:
    """The alerts of a period, by the gateway's runner when it runs (its thresholds and
    baselines), else by the default rules."""
    runner: AlertRunner | None = getattr(audit_log, "alert_runner", None)
    if runner is not None:
        return runner.current(since, until)
    return current_alerts(audit_log, since, until)


def lookup_alert(audit_log: Any, aid: str) -> Alert | None:
    """One alert by id (evaluated over the last day, else as opened or acted on)."""
    runner: AlertRunner | None = getattr(audit_log, "alert_runner", None)
    if runner is not None:
        return runner.find(aid)
    return find_alert(audit_log, aid)
