"""The live alert runner's cost per evaluation: 1,000 new events on top of a day of
30,000 or 100,000 (``python -m bench.alerts [--day N ...] [--new N] [--rounds N]``; no
database server: an embedded SQLite audit log in a temporary home).

Two runners read the same log with the same clock, thresholds and baselines:

- ``full``: the evaluation before the incremental runner (every rule over the day's
  events on each evaluation: ``live_alerts`` over the window), kept here as the
  reference;
- ``incremental``: ``AlertRunner.evaluate`` (``audit.alert_index``).

Each round appends ``--new`` events over the next minutes and moves the clock to the
newest, so as many old events age out of the day as arrive; both runners then evaluate
once (the same reads of the new events, the same alerts opened: each in its own home).
Two days of traffic are measured: ``many users`` (200 analysts, subjects drawn from a
large population: most keys small) and ``one analyst`` (the load bench's shape: one user
all day, the same 20 subjects per query, outside working hours — every alert key is
hot). Prints seconds per evaluation (median of the rounds) and the ratio.
"""

from __future__ import annotations

import argparse
import random
import statistics
import tempfile
import time
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from audit.alert_common import Alert
from audit.alert_runner import WINDOW, AlertRunner
from audit.alert_state import live_alerts, public
from audit.events import format_ts
from audit.log import AuditLog
from catalog.db import migrate

NOW = datetime(2026, 12, 3, 14, 0, tzinfo=UTC)  # 22:00 in Shanghai: outside working hours


class FullRunner(AlertRunner):
    """The runner as it was: every rule over the whole day on every evaluation."""

    def evaluate(self) -> list[Alert]:
        with self._lock:
            now = self.clock()
            self._load(now)
            start = now - WINDOW
            events = [e for e in self._events if e["_t"] >= start]
            found = live_alerts(self.log, events, config=replace(self.config, now=now),
                                baselines=self.book.baselines(now.date()))  # fmt: skip
            self.evaluations += 1
            opened = self.states.opened()
            new = []
            for alert in found:
                if alert["id"] in opened or self.states.state(alert["id"])["state"] != "open":
                    continue
                if self.states.open(alert):
                    new.append(alert)
                    if self.channels:
                        self.outbox.enqueue(public(alert), self.channels)
        return new


def query(rng: random.Random, at: datetime, i: int, *, hot: bool) -> list[dict[str, Any]]:
    """One governed query: its start and its delivery of 20 rows."""
    user = "analyst0" if hot else f"analyst{rng.randrange(200)}"
    people = range(20) if hot else (rng.randrange(5_000_000) for _ in range(20))
    tokens = [f"tk_{p:024x}" for p in people]
    common = {"actor": {"sub": user, "dept": "civil", "roles": ["analyst"]},
              "resource": "dataset:civil.dibao_recipients", "purpose": "supervision",
              "case_ref": "BENCH-1", "request_id": f"r{i}", "ts": format_ts(at)}  # fmt: skip
    start = {**common, "type": "query.started", "outcome": "started",
             "details": {"resource_dept": "civil", "level": "L3"}}  # fmt: skip
    done = {**common, "type": "query.completed", "outcome": "ok", "rows": 20,
            "details": {"resource_dept": "civil", "level": "L3", "subject_tokens": tokens,
                        "counties": ["430121"]}}  # fmt: skip
    return [start, done]


def traffic(rng: random.Random, since: datetime, until: datetime, n: int, hot: bool) -> list[Any]:
    step = (until - since) / max(n // 2, 1)
    out = []
    for i in range(n // 2):
        out.extend(query(rng, since + step * (i + 1), rng.randrange(10**9), hot=hot))
    return out


def fill(log: AuditLog, events: list[dict[str, Any]]) -> None:
    pending = [log.submit(e) for e in events]
    for p in pending:
        p.wait()


def run(day: int, new: int, rounds: int, hot: bool) -> dict[str, float]:
    rng = random.Random(17)
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{Path(tmp) / 'audit.db'}"
        migrate(url)
        log = AuditLog.open(url=url, home=Path(tmp) / "home", append_timeout_s=120)
        try:
            fill(log, traffic(rng, NOW - WINDOW, NOW, day, hot))
            clock = [NOW]
            runners = {"full": FullRunner, "incremental": AlertRunner}
            live = {}
            for name, cls in runners.items():  # each its own home: each opens its alerts
                home = Path(tmp) / name
                home.mkdir()
                view = type("View", (), {"home": home, "seal": log.seal, "store": log.store,
                                         "on_commit": log.on_commit})()  # fmt: skip
                live[name] = cls(view, clock=lambda: clock[0])
                live[name].evaluate()  # the first load (a restart), not measured
            took: dict[str, list[float]] = {name: [] for name in runners}
            for _ in range(rounds):
                span = timedelta(days=1) * new / day
                fill(log, traffic(rng, clock[0], clock[0] + span, new, hot))
                clock[0] += span
                for name, runner in live.items():
                    began = time.perf_counter()
                    runner.evaluate()
                    took[name].append(time.perf_counter() - began)
            return {name: statistics.median(t) for name, t in took.items()}
        finally:
            log.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--day", type=int, nargs="+", default=[30_000, 100_000])
    parser.add_argument("--new", type=int, default=1_000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    print(f"{'traffic':<12} {'day':>8} {'new':>6} {'full s':>9} {'incremental s':>14} {'ratio':>7}")
    for hot in (False, True):
        for day in args.day:
            got = run(day, args.new, args.rounds, hot)
            label = "one analyst" if hot else "many users"
            print(f"{label:<12} {day:>8,} {args.new:>6,} {got['full']:>9.3f} "
                  f"{got['incremental']:>14.4f} {got['full'] / got['incremental']:>6.1f}×",
                  flush=True)  # fmt: skip


if __name__ == "__main__":
    main()
