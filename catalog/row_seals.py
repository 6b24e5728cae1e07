"""Seals on the catalog rows that say who may do what: a user's attributes and a role
assignment.

Why: whoever can write the catalog database (a DBA, a backup restored by hand, a
compromised replica's credentials) could otherwise give themselves any role, clearance,
jurisdiction or department with one ``INSERT INTO casbin_rule`` or ``UPDATE users``, and
the next request would be governed by it with nothing on the trail (THREAT_MODEL's
insider row). Each such row now carries ``seal``: an HMAC-SHA256, under a key only the
gateways hold, over the values that govern a request. The key is derived (HKDF, a label
of its own) from the deployment's shared secret ``keys/mask.secret`` — the file every
replica already holds and that never goes into the database, as the audit events' MAC
key is — so a row an insider writes or edits does not verify, and the gateway treats
it as absent (a role) or refuses the account (a user) until an admin saves it again
through the gateway, on record.

What a seal does not stop: writing back a row *as it was* before a change made through
the gateway (a role removed, a suspension) with the seal it had then — a replay. Each
such change binds the row's new seal on the trail, and only the newest binding governs
(``catalog.row_bindings``).

Seals are computed where rows are written through SQLAlchemy's ORM (``before_insert`` and
``before_update`` of ``User`` here and of ``policies.sealed_rules.SealedRule``), with the
key registered for the database the session writes to (``register``). A write to a
database with no key registered raises: no code path may leave an unsealed row behind.
"""

from __future__ import annotations

import hashlib
import hmac
import threading
from collections.abc import Iterable
from types import SimpleNamespace
from typing import Any

import orjson
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from sqlalchemy import JSON, Connection, Engine, inspect, text
from sqlalchemy.engine import URL, make_url

_SALT = b"sluice/row-seal"
_INFO = b"sluice/row-seal/v1"
USERS = "users"
RULES = "casbin_rule"


class RowSeals:
    """The deployment's row-sealing key; seals are hex HMAC-SHA256 over the table name and
    the row's governing values as canonical JSON."""

    __slots__ = ("_key",)

    def __init__(self, secret: bytes) -> None:
        if len(secret) < 16:
            raise ValueError("the row-seal secret is too short")
        hkdf = HKDF(algorithm=hashes.SHA256(), length=32, salt=_SALT, info=_INFO)
        self._key = hkdf.derive(secret)

    def seal(self, table: str, values: Iterable[Any]) -> str:
        payload = orjson.dumps([table, *values])
        return hmac.new(self._key, payload, hashlib.sha256).hexdigest()

    def holds(self, table: str, values: Iterable[Any], seal: object) -> bool:
        """Whether ``seal`` is this key's seal of the row (never for a missing seal)."""
        if not isinstance(seal, str) or not seal:
            return False
        return hmac.compare_digest(self.seal(table, values), seal)

    def __repr__(self) -> str:  # never the key
        return "RowSeals(<secret>)"


class FirstSeen:
    """Which rows that do not verify a process has logged already: each (row, seal) is
    logged once, not at every read of it, and at most ``bound`` of them are kept."""

    def __init__(self, bound: int = 10_000) -> None:
        self._seen: set[tuple[object, ...]] = set()
        self._bound = bound
        self._lock = threading.Lock()

    def first(self, mark: tuple[object, ...]) -> bool:
        """Whether ``mark`` is met for the first time (and is now remembered)."""
        with self._lock:
            if mark in self._seen or len(self._seen) >= self._bound:
                return False
            self._seen.add(mark)
            return True


def sealable(value: Any) -> Any:
    """``value`` (JSON a caller sent, about to be stored and sealed), or ``ValueError``.

    Why: seals are HMACs over canonical JSON (orjson: 64-bit integers, finite floats,
    254 levels), but the request parser takes more (``2**70``, ``NaN``, ``1e400``): a
    steward's source settings or an analyst's model rule holding one raised inside the
    seal (a 500, red team 19), and PostgreSQL's JSON column refuses NaN and Infinity."""
    try:
        encoded = orjson.dumps(value)
    except orjson.JSONEncodeError as exc:
        raise ValueError(f"not storable JSON ({exc})") from None
    if orjson.loads(encoded) != value:  # NaN and the infinities encode as null
        raise ValueError("not storable JSON (a number that is not finite)")
    return value


def user_values(
    subject: str,
    department: object,
    clearance: object,
    jurisdiction: object,
    status: object,
    id_number_hash: object,
) -> tuple[Any, ...]:
    """What a user's seal covers: everything of the row that governs a request or an
    alert (the own-records alert reads ``id_number_hash``); not the display name."""
    return (subject, department, clearance, jurisdiction, status, id_number_hash)


_GOVERNING = ("subject", "department", "clearance", "jurisdiction", "status", "id_number_hash")


def user_row_values(user: Any) -> tuple[Any, ...]:
    """``user_values`` of a row: an ORM ``User`` or any row with those columns."""
    return user_values(*(getattr(user, name) for name in _GOVERNING))


def rule_values(row: Any) -> tuple[Any, ...]:
    """What a casbin line's seal covers: its type and its six values."""
    return (row.ptype, row.v0, row.v1, row.v2, row.v3, row.v4, row.v5)


_REGISTRY: dict[str, RowSeals] = {}
_LOCK = threading.Lock()


def _key_of(url: str | URL) -> str:
    return make_url(url).render_as_string(hide_password=True)


def register(url: str | URL, seals: RowSeals) -> None:
    """The key that seals rows written to the database at ``url`` in this process (the
    same for every engine on it)."""
    with _LOCK:
        _REGISTRY[_key_of(url)] = seals


def seals_for(bind: Engine | Connection) -> RowSeals:
    """The key registered for ``bind``'s database; raises if none is."""
    engine = bind.engine if isinstance(bind, Connection) else bind
    seals = _REGISTRY.get(_key_of(engine.url))
    if seals is None:
        raise RuntimeError(
            "no row-seal key is registered for this catalog database "
            "(catalog.row_seals.register): rows that govern access would be written unsealed"
        )
    return seals


def user_holds(seals: RowSeals, user: Any) -> bool:
    """Whether a user row (an ORM ``User`` or a row with its columns) carries this key's
    seal of its governing values."""
    return seals.holds(USERS, user_row_values(user), user.seal)


_RESTATED = "_sluice_row_restated"
_STORED_USER = text(
    "SELECT subject, department, clearance, jurisdiction, status, id_number_hash, seal "
    "FROM users WHERE subject = :s"
)


def restate(user: Any) -> None:
    """Say that the write about to be flushed sets every governing value of ``user``
    itself (an admin's whole save), so it may seal a row whose stored values do not
    verify: what is sealed is then what the admin sent, not what was found."""
    setattr(user, _RESTATED, True)


def restated(user: Any) -> bool:
    """Whether ``restate`` was said of ``user``'s write about to be flushed."""
    return bool(getattr(user, _RESTATED, False))


def _with_defaults(user: Any) -> None:
    if user.jurisdiction is None:
        user.jurisdiction = []
    if user.clearance is None:
        user.clearance = "L1"
    if user.status is None:
        user.status = "active"


def user_seal(seals: RowSeals, user: Any) -> str:
    """The seal ``seal_user_row`` gives ``user`` (an ORM ``User`` about to be written):
    what a change binds on the trail before it commits (``catalog.row_bindings``)."""
    _with_defaults(user)
    return seals.seal(USERS, user_row_values(user))


def _stored_row_holds(connection: Connection, seals: RowSeals, subject: str) -> bool:
    row = connection.execute(_STORED_USER.columns(jurisdiction=JSON),
                             {"s": subject}).first()  # fmt: skip
    return row is None or user_holds(seals, row)


def as_loaded(row: Any) -> SimpleNamespace:
    """An ORM object's column values as its session loaded them, before its own
    changes: what its seal was computed over."""
    state = inspect(row)
    loaded = {}
    for attr in state.mapper.column_attrs:
        history = state.attrs[attr.key].history
        loaded[attr.key] = (list(history.deleted) or list(history.unchanged) or [None])[0]
    return SimpleNamespace(**loaded)


def _loaded_row_holds(seals: RowSeals, user: Any) -> bool:
    """Whether the values this write started from (as the session loaded them, before
    its own changes) verified under the seal loaded with them. The seal is computed
    over those values plus the write's changes, so the stored row verifying at the
    flush is not enough: an insider who wrote a row's own values back between the load
    and the flush had the values they wrote before it sealed (red team 15)."""
    return user_holds(seals, as_loaded(user))


def seal_user_row(connection: Connection, user: Any, *, update: bool = False) -> None:
    """Seal ``user`` (an ORM ``User`` about to be written). The column defaults are set
    first: they would otherwise be filled in after the seal was computed.

    An update seals only a row whose stored values verify, or one ``restate``d: any
    other write (a role given, an ID number set, a suspension lifted) would otherwise
    seal whatever an insider had written into the row's other columns, and the
    account, refused until then, would be governed by it (red team 14). Such a write
    is made and the row stays unsealed (the account refused) until an admin's save."""
    seals = seals_for(connection)
    restated_ = restated(user)
    if restated_:
        delattr(user, _RESTATED)
    elif update and not (_loaded_row_holds(seals, user)
                         and _stored_row_holds(connection, seals, user.subject)):  # fmt: skip
        return
    user.seal = user_seal(seals, user)
