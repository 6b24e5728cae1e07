"""The approval index's snapshot under attack (``audit.follow_snapshot``).

A gateway process now resumes the approval checks' index (``ApprovalFacts``) from a
snapshot in ``audit_follow_snapshots`` instead of walking the whole trail. That table is
the runtime role's to rewrite, so an insider of the audit database (triggers off, as in
red team 40) tries to blind the index through it: dora read the dibao roll's ID numbers
as a case's tokens, a gateway snapshotted the index with her read in it, and she asks
for the numbers in clear; the insider re-indexes her ``query.started`` under another
name (red team 40's move) and deletes the snapshot, puts back an older one the gateway
wrote before her read, or edits the snapshot's facts.

Expected: every time, the fresh process's index still holds her read and civil's
approval is refused (409, the field named): a deleted or forged snapshot is ignored and
the trail walked from seq 1; an older one makes the walk re-read every event after its
watermark, her read among them. On the embedded default and PostgreSQL.
"""

from __future__ import annotations

import orjson

from audit.follow import VerifiedFollower
from gateway.stewardship.grants.trail_facts import ApprovalFacts
from tests.attacks.test_redteam40_verified_index import (
    _approve,
    _asked,
    _dora_reads,
    _named,
    _put_back,
    _tampered,
)
from tests.audit.helpers import event
from tests.gateway.demo_app import DemoGateway

_SNAPSHOT = "SELECT body, mac FROM audit_follow_snapshots WHERE kind = '{}'"
_KIND = f"{ApprovalFacts.__module__}.{ApprovalFacts.__qualname__}"


def test_snapshot_deleted_and_columns_edited_still_refuses(deployment: DemoGateway) -> None:
    gw = deployment
    asked = _asked(gw, "JW-SNAP-GONE")
    seqs = _dora_reads(gw, "JW-SNAP-GONE")
    _index(gw).persist()  # a gateway snapshotted the index with dora's read in it
    assert _stored(gw) is not None
    with _tampered(gw, *_hide(seqs), "DELETE FROM audit_follow_snapshots",
                   back=_put_back(gw, seqs)):  # fmt: skip
        gw.services.audit.followers.forget()  # a gateway process started since
        _named(_approve(gw, asked))


def test_older_snapshot_replayed_and_columns_edited_still_refuses(
    deployment: DemoGateway,
) -> None:
    gw = deployment
    gw.services.audit.append(event(0))  # a trail with something before dora's read
    _index(gw).persist()
    older = _stored(gw)  # written before dora's read: it knows nothing of it
    assert older is not None
    asked = _asked(gw, "JW-SNAP-OLD")
    seqs = _dora_reads(gw, "JW-SNAP-OLD")
    assert orjson.loads(older[0])["seq"] < min(seqs)
    _index(gw).persist()
    assert _stored(gw) != older
    body, mac = (text.replace("'", "''") for text in older)
    replay = f"UPDATE audit_follow_snapshots SET body = '{body}', mac = '{mac}'"
    with _tampered(gw, *_hide(seqs), replay, back=_put_back(gw, seqs)):
        gw.services.audit.followers.forget()
        _named(_approve(gw, asked))


def test_snapshot_facts_edited_and_columns_edited_still_refuses(
    deployment: DemoGateway,
) -> None:
    gw = deployment
    asked = _asked(gw, "JW-SNAP-FORGED")
    seqs = _dora_reads(gw, "JW-SNAP-FORGED")
    _index(gw).persist()
    forge = "UPDATE audit_follow_snapshots SET body = replace(body, '\"dora\"', '\"d0ra\"')"
    with _tampered(gw, *_hide(seqs), forge, back=_put_back(gw, seqs)):
        assert '"dora"' not in str(_stored(gw))
        gw.services.audit.followers.forget()
        _named(_approve(gw, asked))


def _index(gw: DemoGateway) -> VerifiedFollower[ApprovalFacts]:
    return gw.services.audit.followers.of(ApprovalFacts)


def _stored(gw: DemoGateway) -> tuple[str, str] | None:
    store = gw.services.audit.store
    with store.reading() as conn:
        rows = store.fetch_all(conn, _SNAPSHOT.format(_KIND))
    return None if not rows else (str(rows[0][0]), str(rows[0][1]))


def _hide(seqs: list[int]) -> list[str]:
    """Red team 40's move: dora's reads re-indexed under another name and type."""
    marks = ",".join(str(s) for s in seqs)
    return [f"UPDATE audit_events SET actor_sub = 'd0ra', type = 'query.completed' "
            f"WHERE seq IN ({marks})"]  # fmt: skip
