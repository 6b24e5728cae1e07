"""Red team 22's left row, as a database insider (the catalog writable behind the
gateway), for an analyst: a done run's ``columns`` and ``disappeared`` rewritten.

Rule: what an analyst is shown of a done run is the run its completion on the audit
trail names (red team 2: the hit list's bytes, owner, model version, purpose and case;
red team 22: whether it was cut, the jurisdiction each side was read under). Two more
parts of the row govern what she is shown and were not on the completion:

- ``columns``: each hit-list column and how policy released it (allow, or masked by
  which method), shown in the run's view and read by red team 6's check that no column
  is clearer than the reader's decision releases it now;
- ``disappeared`` (and the schedule's ``previous_run_id``, ``new_hits``): a scheduled
  run's new hit ids and the previous run's hits that are gone (their case-keyed tokens),
  served by ``…/disappeared`` and flagging the ``new`` column of the hit list.

Attack: ``UPDATE comparison_runs`` setting a column's release to ``mask``/``hash`` (the
view, and the clearer-than-now check, read a clear column as a token); setting
``disappeared`` to a made-up gone hit and no new ones (the leads an analyst follows).

Expected: the row is not the run its completion names: the run's view, its hits and its
changes are refused (409 ``hits_tampered``, the run's refusal for a row changed behind
the gateway, as for ``truncated`` and ``sides``); restored, they are served again.

On the embedded SQLite default and on PostgreSQL (``deployment``).
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import pytest

from tests.attacks.test_redteam3_analyst_run_jurisdiction import _scheduled_run
from tests.attacks.test_redteam22_insider_run_row import _edit_run
from tests.gateway.comparison_env import hits
from tests.gateway.demo_app import DemoGateway

RUNS = "/api/v1/comparison-runs"


def _refused(gw: DemoGateway, path: str) -> None:
    answer = gw.client.get(path, headers=gw.headers("dora"))
    assert answer.status_code == 409, (path, answer.status_code, answer.text[:300])
    assert answer.json()["code"] == "hits_tampered", answer.text


def _served(gw: DemoGateway, run_id: str) -> dict[str, Any]:
    for path in (f"{RUNS}/{run_id}", f"{RUNS}/{run_id}/disappeared"):
        answer = gw.client.get(path, headers=gw.headers("dora"))
        assert answer.status_code == 200, (path, answer.text[:300])
    assert hits(gw, "dora", run_id).status_code == 200
    return dict(gw.client.get(f"{RUNS}/{run_id}", headers=gw.headers("dora")).json())


def _columns_masked(view: dict[str, Any]) -> dict[str, Any]:
    """A column released clear said to be masked (a token) in the run's view."""
    columns = copy.deepcopy(view["columns"])
    clear = next(c for c in columns if c["action"] == "allow" and c["name"] != "hit_id")
    clear.update(action="mask", method="hash")
    return {"columns": columns}


def _changes_made_up(view: dict[str, Any]) -> dict[str, Any]:
    """No new hit, and a gone one that never was."""
    return {"disappeared": {"new": [], "gone": [{"hit_id": 1, "key_token": "tk_" + "0" * 24}]},
            "new_hits": 0}  # fmt: skip


@pytest.mark.parametrize("forge", [_columns_masked, _changes_made_up], ids=["columns", "changes"])
def test_a_runs_row_rewritten_is_not_shown(
    deployment: DemoGateway, forge: Callable[[dict[str, Any]], dict[str, Any]]
) -> None:
    gw = deployment
    view = _served(gw, _scheduled_run(gw)["id"])
    old = _edit_run(gw, view["id"], **forge(view))
    try:
        for part in ("", "/hits", "/disappeared"):
            _refused(gw, f"{RUNS}/{view['id']}{part}")
    finally:
        _edit_run(gw, view["id"], **old)
    _served(gw, view["id"])
