"""What a source object reads, asked of its source now (stop 38).

An entry records what its object reads at its draft and at each steward's refresh
(``datasets.reads``, ``adapters.sql_lineage``); a view is redefined at the source with
no word to the gateway, and a table moved under a view of its own name leaves its
entry recorded as reading the view (red team 50). Where a freeze decides, the source is
asked again, through this one module: at the freeze (what the frozen entry reads now,
added to what it was recorded as reading), at a publication (the candidate's, recorded
with it), and — only while an entry of the same system is frozen (``freeze_near``) —
by the broker before it serves and by the comparison checks. Where the candidate is
asked, the frozen entries of its system are asked too (``frozen_now``): the frozen table
may move after the freeze. With nothing frozen there, nothing is asked: the broker's
cached path is the one it was.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Collection, Iterable
from dataclasses import replace

from sqlalchemy.orm import Session

from adapters.base import ANY_TABLE, SourceAdapter
from catalog.models import Source
from gateway.core.services import Services
from gateway.enforcement.sources.connect import open_source_adapter
from gateway.enforcement.sources.objects import FrozenObject, SourceView, one_system
from gateway.enforcement.sources.targets import FILE_KINDS

NO_LINEAGE = frozenset({"http", *FILE_KINDS})
"""Built-in kinds whose objects read nothing of each other (``SourceAdapter.lineage``'s
None): the catalog's name rules stand alone for them, asked or not."""


ASK_WITHIN_S = 5.0
"""How long a check waits for the source's answer before taking "any table": a freeze
is an emergency action, and a source that is busy — or whose administrator holds a lock
on purpose — must not hold it (a writer holding civil's file kept the officer's freeze
waiting past the client's 30 s: red team 8's console tests)."""


def reads_now(
    kind: str, object_name: str, adapter: Callable[[], SourceAdapter], *, close: bool,
    within_s: float | None = ASK_WITHIN_S,
) -> frozenset[str] | None:  # fmt: skip
    """What ``object_name`` reads as its source tells it now, through ``adapter`` (closed
    after when ``close``: a pooled one is not), within ``within_s`` (None: as long as the
    source takes, for a draft, which introspects it anyway). A source that cannot be
    opened or asked, or does not answer in time, may read any table (``ANY_TABLE``):
    unknown is not nothing; None only for a kind with no lineage at all
    (``NO_LINEAGE``) — an unknown kind (an extension) that cannot be asked fails closed
    too. A late answer is dropped; its thread closes what it opened."""
    if within_s is None:
        return _asked(kind, object_name, adapter, close)
    found: list[frozenset[str] | None] = []
    worker = threading.Thread(
        target=lambda: found.append(_asked(kind, object_name, adapter, close)),
        name="sluice-lineage", daemon=True,
    )  # fmt: skip
    worker.start()
    worker.join(within_s)
    return found[0] if found else _unknown(kind)


def _asked(
    kind: str, object_name: str, adapter: Callable[[], SourceAdapter], close: bool
) -> frozenset[str] | None:
    try:
        opened = adapter()
    except Exception:  # a target refused, a server down: the freeze does not wait on it
        return _unknown(kind)
    try:
        return opened.lineage(object_name)
    except Exception:  # an adapter's own failure, whatever it is, tells nothing
        return _unknown(kind)
    finally:
        if close:
            opened.close()


def reads_of_source(services: Services, source: Source, object_name: str) -> frozenset[str] | None:
    """``reads_now`` through a connection of its own to ``source`` (closed after)."""
    return reads_now(source.kind, object_name,
                     lambda: open_source_adapter(services=services, source=source),
                     close=True)  # fmt: skip


def reads_together(
    recorded: Collection[str] | None, now: Collection[str] | None
) -> frozenset[str] | None:
    """What an entry was recorded as reading and what it reads now, both: a frozen
    entry's recorded reads name its table where the freeze was meant, and its object's
    reads now name where its rows went (red team 50). None when neither was told."""
    if recorded is None and now is None:
        return None
    return frozenset(recorded or ()) | frozenset(now or ())


def freeze_near(frozen: Iterable[FrozenObject], source: SourceView) -> bool:
    """Whether some frozen entry may hold an entry of ``source`` by what it reads: one
    on the same system (``one_system``). The cheap test before the source is asked: a
    freeze of another system, or none, asks nothing."""
    return any(not f.gone and one_system(source, f.source) for f in frozen)


Ask = Callable[[FrozenObject], frozenset[str] | None]
"""What a frozen entry's object reads now (``reads_now`` through the caller's adapter)."""


def frozen_now(frozen: Iterable[FrozenObject], source: SourceView, ask: Ask) -> list[FrozenObject]:
    """``frozen``, each frozen entry on ``source``'s system with what its object reads now
    (``ask``) added to what it was recorded as reading: the frozen table moved under a
    view of its own name after the freeze left the freeze holding the view, and a view
    over the moved table was published and served (red team 50's move, made after the
    freeze). One that holds its whole system or department already is asked nothing."""
    return [replace(f, reads=reads_together(f.reads, ask(f)))
            if not (f.gone or f.whole) and one_system(source, f.source) else f
            for f in frozen]  # fmt: skip


def asking_sources(session: Session, services: Services) -> Ask:
    """``Ask`` through a connection of its own to each frozen entry's source (its row
    gone: any table)."""

    def ask(frozen: FrozenObject) -> frozenset[str] | None:
        row = session.get(Source, frozen.source.source_id)
        if row is None:
            return frozenset({ANY_TABLE})
        return reads_of_source(services, row, frozen.object_name)

    return ask


def _unknown(kind: str) -> frozenset[str] | None:
    return None if kind in NO_LINEAGE else frozenset({ANY_TABLE})
