"""Where this gateway knows the trail's MACs begin, kept in its home, outside the
database.

Every event from the first MAC'd one on must carry a MAC (``AuditStore.mac_boundary``),
and events before it are taken for a trail written before MACs existed. The database
alone says where that first MAC'd event is — and a database insider with the owner's
rights can strip every MAC (``UPDATE audit_events SET mac = NULL``): the trail then read
as one written entirely before MACs, an event of theirs appended at the head with no MAC
was chained onto and signed by the next gateway started, and verification answered ok
(red team 43: red team 3's forgery again). A MAC'ing gateway therefore records, the
first time it opens the trail, the seq from which it knows every event is MAC'd: the
first MAC'd event the trail holds then, or the one after the head (this gateway MACs
every event it writes); the boundary is never taken later than that record.

Residual: a home first opened after the MACs were stripped records the head it finds;
a verifier given only the database (no home) trusts the database's boundary.
"""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Any

from audit.store import AuditStore
from catalog.private_files import read_own, replace_private

MAC_FLOOR_NAME = "audit-mac-from"


def mac_floor_path(home: Path) -> Path:
    return home / MAC_FLOOR_NAME


def recorded_floor(home: Path) -> int | None:
    """The seq the home recorded; None when it recorded none (or the file is unusable:
    as before this record existed)."""
    with contextlib.suppress(OSError, ValueError):
        value = int(read_own(mac_floor_path(home), limit=32).decode().strip())
        return value if value >= 1 else None
    return None


def record_floor(home: Path, store: AuditStore, conn: Any) -> int | None:
    """The home's floor, recorded now from the trail when none is yet and this gateway
    MACs events (a gateway from before MACs records nothing)."""
    found = recorded_floor(home)
    if found is not None or store.event_mac is None:
        return found
    first = store.first_maced(conn)
    floor = first if first is not None else int(store.read_head(conn)[0]) + 1
    replace_private(mac_floor_path(home), f"{floor}\n".encode())
    return floor
