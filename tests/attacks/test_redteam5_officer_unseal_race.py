"""Red team 5, as a security officer and an admin approving an unseal at the same moment.

Rule: one seal is lifted once — the second of the two approvals starts *one* new epoch,
anchored at the head as found, with one ``audit.unsealed`` event naming both approvals
(``audit/unseal.py``); a check-then-act on one approval must not run twice (attack
checklist, "Concurrency: … one approval, one checkpoint").

Attack: the officer and the admin post ``POST /api/v1/audit/unseal`` together. Each
request records its approval, re-reads the seal file and, finding both roles covered,
unseals: two new epochs for one seal — two ``audit.unsealed`` events claiming the same
epoch, the writer re-anchored twice (the second time at a head that already holds the
first unseal and whatever followed it, none of it in the evidence the approvals named),
and the old epoch's local witness file archived twice (``os.replace`` onto the same
name). The interleaving is forced: once its approval is in the seal file, each request waits
(up to two seconds) for the other's before reading the approvals back.
"""

from __future__ import annotations

import contextlib
import hashlib
import threading
from collections.abc import Callable
from typing import Any

from audit.search import EventFilter, list_events
from tests.gateway.demo_app import DemoGateway


def _approvals_in(path: Any) -> int:
    try:
        return path.read_text().count('"kind":"unseal_approved"')
    except FileNotFoundError:
        return 0


def _forcing(seal: Any, before: int) -> Callable[..., None]:
    """``seal.record`` that, once this request's approval is written, waits (up to two
    seconds) for the other request's, reads the approvals back, and goes on when the
    other request has read them too — as two requests interleave on a busy host."""
    original = seal.record
    both_read = threading.Barrier(2, timeout=2)

    def record(kind: str, **fields: Any) -> None:
        original(kind, **fields)
        if kind == "unseal_approved":
            for _ in range(40):
                if _approvals_in(seal.path) >= before + 2:
                    break
                threading.Event().wait(0.05)
            seal.refresh()
            # both requests have read the approvals back before either goes on
            with contextlib.suppress(threading.BrokenBarrierError):
                both_read.wait()

    return record


def _unsealed_events(gw: DemoGateway) -> list[Any]:
    page = list_events(store=gw.services.audit.store,
                       filters=EventFilter(type="audit.unsealed"), limit=100)  # fmt: skip
    return list(page["items"])


def test_two_approvals_at_once_unseal_once(deployment: DemoGateway) -> None:
    gw = deployment
    sam, root = gw.headers("sam"), gw.headers("root")
    seal = gw.services.audit.seal
    assert seal.seal("red team 5: two approvals at once", {"test": True})
    export = gw.client.get("/api/v1/audit/export", headers=sam)
    assert export.status_code == 200
    body = {"evidence_sha256": hashlib.sha256(export.content).hexdigest(), "note": "at once"}
    before = _approvals_in(seal.path)
    unsealed = _unsealed_events(gw)
    answers: dict[str, Any] = {}

    def approve(who: str, headers: dict[str, str]) -> None:
        answers[who] = gw.client.post("/api/v1/audit/unseal", json=body, headers=headers)

    seal.record = _forcing(seal, before)  # type: ignore[method-assign]
    try:
        threads = [threading.Thread(target=approve, args=("sam", sam)),
                   threading.Thread(target=approve, args=("root", root))]  # fmt: skip
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    finally:
        del seal.record  # the instance attribute: the class's method again
    assert {a.status_code for a in answers.values()} <= {200, 409}, answers
    lifted = [who for who, a in answers.items() if a.status_code == 200 and not a.json()["sealed"]]
    after = _unsealed_events(gw)
    assert len(after) == len(unsealed) + 1, (
        f"one seal lifted {len(after) - len(unsealed)} times",
        lifted,
    )
    assert len(lifted) == 1, answers
    seal.refresh()
    assert not seal.sealed
