"""The incremental runner gives exactly the alerts of the full evaluation.

Random streams (``alert_streams``) are appended in steps while the clock moves on by
minutes to most of a day (events age out of the window and into the baselines, starts
go unended, late imports land in the history), and alerts are resolved (with and
without ``upto_seq``) or acknowledged on the way. After every step the alerts the
index keeps (``AlertIndex``, split at resolutions, plus the seal) equal, id by id and
field by field, what ``live_alerts`` computes from the whole window — and on a real log
the runner has opened every open alert the full evaluation finds, with the same
content."""

from __future__ import annotations

import random
import tempfile
from collections import deque
from collections.abc import Iterator
from dataclasses import replace
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from audit.alert_common import Alert, Event, slim
from audit.alert_index import AlertIndex
from audit.alert_runner import WINDOW, AlertRunner
from audit.alert_state import AlertStates, alert_states, live_alerts, public, sealed_alert
from audit.baseline import BaselineBook
from audit.log import AuditLog
from audit.seal import SealStore
from tests.audit.alert_streams import CFG, T0, next_now, random_event, step_times
from tests.audit.helpers import open_log

STEPS = 14


class Home:
    """What ``live_alerts`` reads of a log besides the events: its home and seal."""

    def __init__(self, home: Path) -> None:
        self.home = home
        self.seal = SealStore(home)


def _by_id(alerts: list[Alert]) -> dict[str, Alert]:
    out = {a["id"]: a for a in alerts}
    assert len(out) == len(alerts), "an id twice"
    return out


def _book() -> BaselineBook:
    return BaselineBook(
        timezone=CFG.timezone,
        days=CFG.baseline_days,
        min_events=CFG.baseline_min_events,
        min_days=CFG.baseline_min_days,
    )


def _act(rng: random.Random, states: AlertStates, found: list[Alert]) -> None:
    """An officer resolves or acknowledges one of the alerts now and then."""
    movable = [a for a in found if a["event_seqs"] and states.state(a["id"])["state"] != "resolved"]
    if not movable or rng.random() < 0.4:
        return
    alert = rng.choice(movable)
    if rng.random() < 0.25 and states.state(alert["id"])["state"] == "open":
        states.transition(alert["id"], "acknowledged", by="sam", note="", record=lambda _s: None)
        return
    upto = rng.choice([max(alert["event_seqs"]), min(alert["event_seqs"]), None])
    states.transition(alert["id"], "resolved", by="sam", note="", record=lambda _s: None,
                      upto_seq=upto)  # fmt: skip


def _stream(seed: int) -> Iterator[tuple[datetime, list[dict[str, Any]]]]:
    rng = random.Random(seed)
    now = T0
    for _ in range(STEPS):
        now = next_now(rng, now)
        yield now, [random_event(rng, at) for at in step_times(rng, now, rng.randint(0, 40))]


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 2**32 - 1))
def test_the_index_keeps_the_alerts_of_the_full_evaluation(seed: int) -> None:
    rng = random.Random(seed ^ 0x5EED)
    with tempfile.TemporaryDirectory() as tmp:
        log = Home(Path(tmp))
        states = alert_states(log.home)
        index, book, window = AlertIndex(CFG), _book(), deque[Event]()
        seq = 0
        for now, raw in _stream(seed):
            start, fresh = now - WINDOW, []
            for event in raw:  # as the runner reads them: in seq order, old ones to history
                seq += 1
                slimmed = slim({**event, "seq": seq})
                if slimmed["_t"] < start:
                    book.add(slimmed)
                else:
                    window.append(slimmed)
                    fresh.append(slimmed)
            while window and window[0]["_t"] < start:
                book.add(window.popleft())
            book.prune(now.date())
            baselines = book.baselines(now.date())
            index.advance(fresh, start, now, baselines)
            events = [e for e in window if e["_t"] >= start]
            full = live_alerts(log, events, config=replace(CFG, now=now), baselines=baselines)
            mine = [part for a in index.alerts() for part in states.generations(a)]
            sealed = sealed_alert(log)
            assert _by_id(([sealed] if sealed else []) + mine) == _by_id(full)
            _act(rng, states, full)


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 2**32 - 1))
def test_kept_baselines_equal_baselines_summed_afresh(seed: int) -> None:
    rng = random.Random(seed)
    kept, now, seq = _book(), T0, 0
    everything: list[Event] = []
    for _ in range(STEPS):
        now = next_now(rng, now)
        for at in step_times(rng, now, rng.randint(0, 30)):
            seq += 1
            event = slim({**random_event(rng, at), "seq": seq})
            kept.add(event)
            everything.append(event)
        kept.prune(now.date())
        fresh = _book()
        fresh.extend(everything)
        assert kept.baselines(now.date()) == fresh.baselines(now.date())


@pytest.fixture
def log(db_url: str, tmp_path: Path) -> Iterator[AuditLog]:
    with open_log(db_url, tmp_path) as opened:
        yield opened


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_the_runner_opens_what_the_full_evaluation_finds(log: AuditLog, seed: int) -> None:
    """On a real log: the runner's alerts after each evaluation are the full
    evaluation's over the runner's own window and baselines, and every open one of
    them has been opened as the full evaluation shows it."""
    rng = random.Random(seed ^ 0xA11)
    clock = [T0]
    runner = AlertRunner(log, config=CFG, clock=lambda: clock[0])
    states = runner.states
    for now, raw in _stream(seed):
        for event in raw:
            log.append(event)
        clock[0] = now
        before = states.opened()
        runner.evaluate()
        events = [e for e in runner._events if e["_t"] >= now - WINDOW]
        baselines = runner.book.baselines(now.date())
        full = live_alerts(log, events, config=replace(CFG, now=now), baselines=baselines)
        assert _by_id(runner.live()) == _by_id(full)
        for alert in full:
            if states.state(alert["id"])["state"] != "open":
                continue
            snap = states.snapshot(alert["id"])
            assert snap is not None, f"{alert['rule']} {alert['id']} not opened"
            if alert["id"] not in before:  # opened by this evaluation: as found now
                assert {k: v for k, v in snap.items() if k != "opened_at"} == public(alert)
        _act(rng, states, full)
