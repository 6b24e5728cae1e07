"""Who looked up whom: the audit search by a person's subject token, on SQLite and
PostgreSQL. Exact (an underscore in the token is no wildcard; a token elsewhere in the
body is no hit), paged by cursor even when a page holds fewer hits than its limit."""

from __future__ import annotations

from pathlib import Path

import pytest

from audit.search import EventFilter, iter_bodies, list_events
from catalog.errors import BadRequest
from tests.audit.helpers import event, open_log

ALICE = "tk_" + "a1" * 12
BOB = "tk_" + "b2" * 12


def test_search_by_subject_token(db_url: str, tmp_path: Path) -> None:
    log = open_log(db_url, tmp_path)
    try:
        log.append(event(1, details={"subject_tokens": [ALICE, BOB], "delivered": True}))
        log.append(event(2, type="comparison.completed", details={"subject_tokens": [BOB]}))
        # the token only as a filter value: not a lookup of that person
        log.append(event(3, details={"filter": ALICE, "subject_tokens": []}))
        # one character off where the '_' is: LIKE's wildcard must not match it
        log.append(event(4, details={"subject_tokens": [ALICE.replace("_", "x", 1)]}))
        for n in range(5, 9):
            log.append(event(n, type="comparison.completed", details={"subject_tokens": [ALICE]}))
        found = list_events(store=log.store, filters=EventFilter(subject_token=ALICE), limit=100)
        assert [e["seq"] for e in found["items"]] == [8, 7, 6, 5, 1]
        bob = list_events(store=log.store, filters=EventFilter(subject_token=BOB), order="asc")
        assert [(e["seq"], e["type"]) for e in bob["items"]] == [
            (1, "query.completed"), (2, "comparison.completed")]  # fmt: skip
        seen, cursor = [], None
        while True:
            page = list_events(store=log.store, filters=EventFilter(subject_token=ALICE),
                               cursor=cursor, limit=2)  # fmt: skip
            seen += [e["seq"] for e in page["items"]]
            cursor = page["next_cursor"]
            if cursor is None:
                break
        assert seen == [8, 7, 6, 5, 1]
        assert [e["seq"] for e in iter_bodies(store=log.store,
                                              filters=EventFilter(subject_token=ALICE))] == [
            1, 5, 6, 7, 8]  # fmt: skip
    finally:
        log.close()


@pytest.mark.parametrize("bad", ["tk_%", "tk_", "ALICE", "tk_" + "0" * 65, "tk_ab%cd1234"])
def test_a_malformed_subject_token_is_a_400(bad: str) -> None:
    with pytest.raises(BadRequest, match="subject_token"):
        EventFilter(subject_token=bad)
