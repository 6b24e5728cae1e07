"""What a run's completion says of the parts of its row shown beside the hits.

A done run's row is in the catalog, writable behind the gateway; its completion on the
audit trail is not without detection, so a run is served only as its completion names
it (``run_service.hit_table``: the hit list's bytes, owner, model version, purpose,
case, whether it was cut, the jurisdiction of each side). Two more parts of the row
govern what an analyst is shown (red team 22's left row):

- ``columns``: each hit-list column and how policy released it (the run's view; red
  team 6's check that no column is clearer than the reader's decision releases it now);
- a scheduled run's changes (``schedule_id``, ``previous_run_id``, ``new_hits``,
  ``disappeared``): the new hit ids and the previous run's gone hits (``…/disappeared``,
  the hit list's ``new`` column).

The completion records a SHA-256 of each (``columns_sha256``, ``changes_sha256``), of
the values as the JSON columns give them back, keys sorted, so the same row digests the
same on SQLite and PostgreSQL. A completion written before these were recorded names
neither and vouches for the rest only.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Mapping
from typing import Any

import orjson

CHANGE_KEYS = ("schedule_id", "previous_run_id", "new_hits", "disappeared")
DIGESTS = ("columns_sha256", "changes_sha256")


def _digest(value: object) -> str:
    as_stored = json.loads(json.dumps(value, default=str))  # the JSON column's round trip
    return hashlib.sha256(orjson.dumps(as_stored, option=orjson.OPT_SORT_KEYS)).hexdigest()


def view_digests(*, columns: object, changes: Mapping[str, object]) -> dict[str, str]:
    """The digests a completion records, of the columns and changes stored with it."""
    return {"columns_sha256": _digest(columns),
            "changes_sha256": _digest({k: changes.get(k) for k in CHANGE_KEYS})}  # fmt: skip


def row_digests(run: Any) -> dict[str, str]:
    """The same digests of a run's row as it is now."""
    return view_digests(columns=run.columns or [],
                        changes={k: getattr(run, k) for k in CHANGE_KEYS})  # fmt: skip


def shown_as_recorded(run: Any, details: Mapping[str, object]) -> bool:
    """Whether the row's columns and changes are those its completion's ``details``
    name (true for a completion from before they were recorded: it names neither)."""
    recorded = {k: details.get(k) for k in DIGESTS}
    if all(v is None for v in recorded.values()):
        return True
    now = row_digests(run)
    return all(isinstance(recorded[k], str) and hmac.compare_digest(now[k], str(recorded[k]))
               for k in DIGESTS)  # fmt: skip
