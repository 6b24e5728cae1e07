"""``PasswordEvents``, the follower's index of each subject's password events: what
``PasswordTrail`` decides on (newest first, up to the newest event with a digest), the
subject taken from the body, and the same facts back after the snapshot's trip through
JSON (``dump``/``loaded``); a body of another shape refused, not half-loaded."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from gateway.web.console.password_events import PasswordEvents


def _event(subject: str, ts: str, type_: str = "user.updated", **details: Any) -> dict[str, Any]:
    return {"type": type_, "resource": f"user:{subject}", "ts": ts, "details": details,
            "actor": {"sub": "root"}}  # fmt: skip


def _index() -> PasswordEvents:
    index = PasswordEvents()
    for event in (
        _event("carl", "t1", password="set"),  # before digests: decides nothing once one is
        _event("carl", "t2", password="set", digest="d2"),
        _event("carl", "t3", password="rehashed"),  # a setter that did not record one
        _event("carl", "t4", roles=["analyst"]),  # not a password event
        _event("carl", "t5", "user.created", password="set", digest="x"),  # not an update
        _event("ana", "t6", password="set", digest="d6", console=True),
        _event("ana", "t7", password="bound", digest="d7"),
        _event("bob", "t8", password="set"),
    ):
        index.add(event)
    index.add({"type": "user.updated", "resource": "dataset:x", "details": {"password": "set"}})
    return index


def test_newest_first_up_to_the_newest_digest() -> None:
    index = _index()
    assert index.events_of("carl") == [{"password": "rehashed", "ts": "t3"},
                                       {"password": "set", "digest": "d2", "ts": "t2"}]  # fmt: skip
    assert index.events_of("ana") == [{"password": "bound", "digest": "d7", "ts": "t7"}]
    assert index.events_of("bob") == [{"password": "set", "ts": "t8"}]
    assert index.events_of("dora") == []
    index.events_of("carl").clear()  # a copy: the index is not the caller's to change
    assert len(index.events_of("carl")) == 2


def test_the_newest_reset_is_kept_past_a_later_digest() -> None:
    """ana's reset (t6) is no longer in her events once her bind (t7) recorded a digest,
    but it still ends the sessions started before it (red team 58)."""
    index = _index()
    assert index.newest_set("ana") == {"password": "set", "digest": "d6", "console": True,
                                       "ts": "t6"}  # fmt: skip
    assert index.newest_set("carl") == {"password": "set", "digest": "d2", "ts": "t2"}
    assert index.newest_set("dora") is None


def test_the_events_come_back_whole() -> None:
    index = _index()
    again = PasswordEvents.loaded(orjson.loads(orjson.dumps(index.dump())))
    assert again.dump() == index.dump()
    for subject in ("carl", "ana", "bob", "dora"):
        assert again.events_of(subject) == index.events_of(subject)
        assert again.newest_set(subject) == index.newest_set(subject)


@pytest.mark.parametrize(
    "body", [[["carl", "set"]], {"carl": "set"}, {"carl": [{"digest": "d"}]}, {"carl": [3]}]
)
def test_another_shape_is_refused(body: Any) -> None:
    with pytest.raises((KeyError, TypeError, ValueError)):
        PasswordEvents.loaded(body)
