"""What a scheduled run adds to a run: its county, and what changed since the schedule's
previous run.

A schedule runs a model for one county: the owner's jurisdiction as read fresh at each
run, narrowed to that county (``narrowed``) — a county outside it fails the run, so a
schedule never widens what its owner may see. Each run of one schedule is under the
schedule's one case, so a person's token is the same from run to run: the hits whose
``key_token`` the previous done run did not have are new, and the previous run's hits
whose token is gone disappeared (``compare_with_previous``, written on the run when it
is stored). No raw identity is needed or kept for either.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import replace
from datetime import timedelta
from typing import Any

import pyarrow as pa
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from catalog.comparison_models import ComparisonRun, RunStatus
from catalog.errors import Forbidden, SluiceError
from gateway.enforcement.comparison.run_store import past_keeping, read_ipc
from gateway.enforcement.comparison.spec import KEY_COLUMN
from policies.decision import Decision, UserContext

HIT_ID = "hit_id"  # as ``runs.HIT_ID`` (runs imports this module)
_R = ComparisonRun
# a done run's stored list as its completion on the trail names it, else a SluiceError
# (``run_service.stored_as_recorded``, which imports this module)
Vouched = Callable[[Session, ComparisonRun], bytes]


def narrowed(user: UserContext, region: str | None) -> UserContext:
    """The user with the county as their only jurisdiction, if it is within theirs."""
    if region is None:
        return user
    if not any(region.startswith(prefix) for prefix in user.jurisdiction):
        raise Forbidden(f"region {region} is outside your jurisdiction")
    return replace(user, jurisdiction=(region,))


def read_under(run: ComparisonRun) -> list[str]:
    """The jurisdiction a run's sides were read under: its county for a scheduled run,
    else the prefixes each side recorded (a run stored before they were recorded: every
    region, so only a reader who has every region may read it again)."""
    if run.region is not None:
        return [run.region]
    recorded = [
        p
        for side in (run.sides or {}).values()
        for p in (side.get("jurisdiction", [""]) if isinstance(side, dict) else [""])
    ]
    return sorted(set(recorded)) or [""]


def check_within(user: UserContext, run: ComparisonRun) -> None:
    """Refuse (403) a run's stored rows to a reader whose jurisdiction, as it is now,
    does not cover every region the run read: a narrowed jurisdiction governs rows
    already read and stored, not only new reads."""
    outside = [p for p in read_under(run)
               if not any(p.startswith(mine) for mine in user.jurisdiction)]  # fmt: skip
    if outside:
        raise Forbidden(
            f"run {run.id} read regions outside your jurisdiction now "
            f"({', '.join(repr(p) for p in outside)}); run the model again"
        )


def check_matched_on(run: ComparisonRun, decisions: Mapping[str, Decision]) -> None:
    """Refuse (403) a run's stored rows to a reader whose side's entry now judges
    jurisdiction on another column than the one its rows were matched on (or on one
    where it read every row): ``check_within`` compares prefixes, and rows matched on the
    old column are not the reader's region's rows by the entry as it is classified now
    (red team 65: a steward's move of the region field). A reader who has every region
    is not refused; a run stored before its sides recorded the column is not compared."""
    for alias, side in (run.sides or {}).items():
        decision = decisions.get(alias)
        if not isinstance(side, dict) or "region_field" not in side or decision is None:
            continue
        now = decision.row_filter
        if now is None or now.get("field") == side["region_field"] or "" in now["prefixes"]:
            continue
        raise Forbidden(
            f"run {run.id}'s side {alias} was read with rows matched on "
            f"{side['region_field']!r}, and its entry's region field is now "
            f"{now.get('field')!r}: run the model again"
        )


def _tokens(table: pa.Table) -> list[Any]:
    return list(table.column(KEY_COLUMN).to_pylist())


def _previous(
    session: Session, run: ComparisonRun, ttl: timedelta, vouched: Vouched
) -> tuple[ComparisonRun, pa.Table] | None:
    """The schedule's latest done run before this one, with its stored hits; None when
    that list is past its keeping, stored or not: the expired are dropped only as runs
    *finish* (after this comparison), so a schedule running less often than the keeping
    copied an expired list's gone tokens into its new run's changes, and its ``new``
    flags told which hits it held (red team 57); and None when its sides were matched
    on another column than this run's (``_matched_alike``), or whose stored list its
    completion on the trail does not vouch for (``vouched`` raises): read as it was
    stored, a list rewritten behind the gateway — refused when read (409) — became the
    new run's vouched-for changes (red team 66)."""
    prior = session.scalars(
        select(ComparisonRun).where(
            _R.schedule_id == run.schedule_id, _R.id != run.id,
            _R.status == RunStatus.DONE.value, _R.created_at <= run.created_at,
        ).order_by(_R.created_at.desc()).limit(1)
    ).first()  # fmt: skip
    if prior is None or past_keeping(prior, ttl) or not _matched_alike(prior, run):
        return None
    try:
        return prior, read_ipc(vouched(session, prior))
    except SluiceError:  # not stored, or not the list its completion names
        return None


def _matched_alike(prior: ComparisonRun, run: ComparisonRun) -> bool:
    """Whether each side of ``prior`` recorded the column its jurisdiction was matched on
    and it is the one ``run``'s side was matched on: a list matched on another column is
    refused when read (``check_matched_on``), and so is no previous list to compare with
    — its gone hits' tokens and which hits it held were served by the next run's changes
    once a steward moved the region field between two runs (red team 66)."""
    before, now = prior.sides or {}, run.sides or {}
    return set(before) == set(now) and all(
        isinstance(before[a], dict) and isinstance(now[a], dict) and "region_field" in before[a]
        and before[a]["region_field"] == now[a].get("region_field")
        for a in now
    )  # fmt: skip


def compare_with_previous(
    sessions: sessionmaker[Session], run_id: str, hits: pa.Table, *, ttl: timedelta,
    vouched: Vouched,
) -> dict[str, Any]:  # fmt: skip
    """A scheduled run's ``previous_run_id``, ``new_hits`` and ``disappeared``, to be
    written with its hits (``RunStore.done``); nothing for an ad-hoc run."""
    with sessions() as session:
        run = session.get(ComparisonRun, run_id)
        if run is None or run.schedule_id is None:
            return {}
        found = _previous(session, run, ttl, vouched)
    now_tokens = _tokens(hits)
    ids = hits.column(HIT_ID).to_pylist()
    if found is None:  # the first run (or the previous list expired): all are new
        return {"previous_run_id": None, "new_hits": len(ids),
                "disappeared": {"new": ids, "gone": []}}  # fmt: skip
    prior, before = found
    seen, current = set(_tokens(before)), set(now_tokens)
    new = [i for i, t in zip(ids, now_tokens, strict=True) if t not in seen]
    gone = [{"hit_id": h, "key_token": t} for h, t in
            zip(before.column(HIT_ID).to_pylist(), _tokens(before), strict=True)
            if t not in current]  # fmt: skip
    return {"previous_run_id": prior.id, "new_hits": len(new),
            "disappeared": {"new": new, "gone": gone}}  # fmt: skip


def change_view(run: ComparisonRun) -> dict[str, Any]:
    """What a run's view says about its schedule (nothing for an ad-hoc run)."""
    if run.schedule_id is None:
        return {}
    changes = run.disappeared or {}
    gone = len(changes.get("gone", [])) if run.disappeared is not None else None
    return {"schedule": run.schedule_id, "region": run.region,
            "previous_run": run.previous_run_id, "new_hits": run.new_hits,
            "disappeared": gone}  # fmt: skip


def new_hit_ids(run: ComparisonRun) -> set[int] | None:
    if run.schedule_id is None or run.disappeared is None:
        return None
    return {int(i) for i in run.disappeared.get("new", [])}
