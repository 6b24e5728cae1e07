"""Keyed tokens of the people whose records a query returned ("who looked up whom").

The audit trail must show whose records were pulled without storing raw ID numbers:
each returned ID number becomes an HMAC token under a gateway-wide key, and a user's
own ID number is known only as the same token, so a self-lookup shows as equality.
Also owns the per-case masking keys (HKDF of the mask secret and the case reference).
"""

from __future__ import annotations

import time
from collections.abc import Collection, Mapping, Sequence
from functools import lru_cache
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import structlog
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from catalog.errors import BadRequest
from catalog.models import User
from catalog.reserved_names import SUBJECT_COLUMN as SUBJECT_COLUMN
from gateway.enforcement.masking import derive_case_key, hash_token, load_mask_secret
from gateway.enforcement.masking.id_spelling import canonical_column, canonical_id_number
from gateway.enforcement.masking.small import SMALL_MAX
from gateway.enforcement.masking.tokens import hash_array, hmac_tokens
from gateway.enforcement.query.entries import Entry
from policies.decision import UserContext

MAX_TOKENS = 1000
MAX_COUNTIES = 64  # county codes recorded per query (audit.baseline reads them)
COUNTY_CHARS = 6  # a county-level administrative division code: 430121
# a comparison side carries its rows' subject tokens in this column until the matches
# are known (``gateway.enforcement.comparison``); it is never sent
log = structlog.get_logger("sluice.subjects")
OWN_TOKEN_TTL_S = 60.0
# The trail's key is derived as a case key is, from a name no case may take: a case
# reference is request text, and ``sluice:audit-subjects`` as one would key its hits and
# masks with the gateway-wide subject tokens' key (linking them to the trail).
RESERVED_CASE_PREFIX = "sluice:"
_AUDIT_CONTEXT = RESERVED_CASE_PREFIX + "audit-subjects"
# ``date_shift``'s key: the same for every case, so that asking again under another case
# shows the same shifted date (keyed per case, a few dozen cases pinned it: red team 36)
_SHIFT_CONTEXT = RESERVED_CASE_PREFIX + "date-shift"


def id_fields(dataset: Entry, names: Collection[str]) -> list[str]:
    """The entry's ID-number fields among ``names`` (the columns a read holds), in the
    entry's order: every one names people, so every one is hashed for the trail
    ("who looked up whom", the reader's own record) — by the gateway's reader
    (``collect``, ``holds_own``) and by a Spark side's executors alike (red team 38)."""
    return [f.name for f in dataset.fields if f.pi_category == "id_number" and f.name in names]


def _audit_key(secret: bytes) -> bytes:
    """The gateway-wide key of subject tokens (not tied to any case)."""
    return derive_case_key(secret, _AUDIT_CONTEXT)


def subject_tokens_of(values: pa.Array, audit_key: bytes) -> pa.Array:
    """The subject token of every value of a text column of ID numbers (nulls stay
    null), each spelt canonically first (``id_spelling``: tokenised as stored, a number
    a clerk grouped with spaces or typed with a lower-case check digit was another
    person to the own-records check and the subject-token rules, red team 47's note):
    the reader's, a comparison side's and a Spark executor's alike."""
    return hash_array(canonical_column(values), audit_key)


def subject_token(home: Path, id_number: str) -> str:
    """The gateway-wide keyed token of an ID number typed by a person (the one the trail
    records); spelled canonically first, so each spelling of one number finds them."""
    return hash_token(canonical_id_number(id_number), _audit_key(load_mask_secret(home)))


class SubjectTokens:
    """The keys under the gateway's home (the mask secret) and the user store (a user's
    own token, re-read): all a query's subject tokens and case keys need."""

    def __init__(self, *, home: Path, sessions: sessionmaker[Session]) -> None:
        self._secret = load_mask_secret(home)
        self._audit_key = _audit_key(self._secret)
        self._tokens = hmac_tokens(self._audit_key)
        # subject: (catalog generation read under, monotonic time, token)
        self._own: dict[str, tuple[int | None, float, str | None]] = {}
        self.case_key = lru_cache(maxsize=1024)(self._case_key)
        self.shift_key = derive_case_key(self._secret, _SHIFT_CONTEXT)
        self._sessions = sessions

    @property
    def audit_key(self) -> bytes:
        """The key of ``column``'s tokens, for an engine that makes them where it reads
        (a comparison side on Spark's executors)."""
        return self._audit_key

    def _case_key(self, case_ref: str) -> bytes:
        if case_ref.startswith(RESERVED_CASE_PREFIX):  # the trail's key is one of these
            raise BadRequest(f"a case reference may not start with {RESERVED_CASE_PREFIX!r}: "
                             "the gateway keeps those names for its own keys")  # fmt: skip
        return derive_case_key(self._secret, case_ref)

    def token(self, id_number: str) -> str:
        return self._tokens.token(id_number.encode("utf-8"))

    def collect(self, batch: pa.RecordBatch, dataset: Entry, have: int) -> list[str]:
        """Tokens of the ID numbers in a raw (unmasked) batch, up to ``MAX_TOKENS``.

        A small batch (a typical 20-row query) is tokenised in plain Python: the same
        tokens as ``hash_array`` without its ~6 Arrow kernel calls per column.
        """
        if have >= MAX_TOKENS:
            return []
        out: list[str] = []
        for name in id_fields(dataset, batch.schema.names):
            room = MAX_TOKENS - have - len(out)
            column = batch.column(name)
            if column.type != pa.string():
                column = column.cast(pa.string())
            if len(column) <= SMALL_MAX:
                out.extend(self._few_tokens(column.to_pylist(), room))
                continue
            column = pc.drop_null(column).slice(0, room)
            out.extend(subject_tokens_of(column, self._audit_key).to_pylist())
        return out

    def holds_own(
        self, batch: pa.RecordBatch, dataset: Entry, subject: str, generation: int | None = None
    ) -> bool:
        """Whether a raw batch holds ``subject``'s own ID number, every value compared
        (``collect`` keeps the first ``MAX_TOKENS`` people only, and a user's own record
        past them went unflagged: red team 36). Nothing is hashed for a user whose own
        number is not recorded."""
        names = id_fields(dataset, batch.schema.names)
        own = self.own_token(subject, generation) if names else None
        if own is None:
            return False
        for name in names:
            column = batch.column(name)
            if column.type != pa.string():
                column = column.cast(pa.string())
            if pc.any(pc.equal(subject_tokens_of(column, self._audit_key), own)).as_py():
                return True
        return False

    def collect_values(
        self, columns: Mapping[str, Sequence[Any]], types: Mapping[str, str], dataset: Entry,
        have: int,
    ) -> list[str] | None:  # fmt: skip
        """``collect`` of a small batch given as its columns' Python values (``types``:
        their logical types); ``None`` where ``collect`` would not take the per-value
        path (a column of another type than text, or longer than ``SMALL_MAX``)."""
        if have >= MAX_TOKENS:
            return []
        out: list[str] = []
        for name in id_fields(dataset, columns):
            values = columns[name]
            if types[name] != "string" or len(values) > SMALL_MAX:
                return None
            out.extend(self._few_tokens(values, MAX_TOKENS - have - len(out)))
        return out

    def _few_tokens(self, values: Sequence[str | None], room: int) -> list[str]:
        present = [canonical_id_number(v) for v in values if v is not None][:room]
        return [t for t in self._tokens.tokens(present) if t is not None]

    def column(self, values: pa.Array) -> pa.Array:
        """The subject token of every value of a raw column (nulls stay null): what a
        comparison side carries beside its rows, so the tokens of the people it matched
        are known after the match without keeping any raw key."""
        if values.type != pa.string():
            values = values.cast(pa.string())
        return subject_tokens_of(values, self._audit_key)

    @staticmethod
    def counties(batch: pa.RecordBatch, dataset: Entry, seen: set[str]) -> None:
        """Add the county codes (first six characters of the entry's region field) of a
        raw batch's rows to ``seen``, up to ``MAX_COUNTIES``: where the user read, for
        the per-user baseline of the alerts ("access outside the usual counties")."""
        name = dataset.region_field
        if not name or name not in batch.schema.names or len(seen) >= MAX_COUNTIES:
            return
        column = batch.column(name)
        values = column.to_pylist() if len(column) <= SMALL_MAX else pc.unique(column).to_pylist()
        SubjectTokens.add_counties(values, seen)

    @staticmethod
    def add_counties(values: Sequence[Any], seen: set[str]) -> None:
        """``counties`` of a column's Python values (all of a small batch's)."""
        if len(seen) >= MAX_COUNTIES:
            return
        for value in values:
            if value is None:
                continue
            seen.add(str(value)[:COUNTY_CHARS])
            if len(seen) >= MAX_COUNTIES:
                return

    def details(
        self, tokens: list[str], user: UserContext, counties: set[str] | None = None,
        *, own_seen: bool = False, generation: int | None = None,
    ) -> dict[str, Any]:  # fmt: skip
        """What the trail says of the people a read named; ``own_seen``: the user's own
        record was found past ``tokens`` (``holds_own``); ``generation``: the catalog
        generation the read was governed by (``own_token``)."""
        own = self.own_token(user.subject, generation)
        out: dict[str, Any] = {
            "subject_tokens": tokens,
            "self_hash_hit": own_seen or bool(own and own in tokens),
        }
        if len(tokens) >= MAX_TOKENS:  # the list was cut: others may have been read too
            # (an L3 query returns up to 10,000 rows; red team 13), as a comparison says
            out["subject_tokens_truncated"] = True
        if counties:
            out["counties"] = sorted(counties)
        return out

    def knows_own(self, subject: str, generation: int | None = None) -> bool:
        """Whether ``details`` would find the subject's own token cached (no read)."""
        cached = self._own.get(subject)
        return cached is not None and _fresh(cached, generation, time.monotonic())

    def forget(self, subject: str) -> None:
        """Drop a cached own-token (after an administrator sets a user's ID number)."""
        self._own.pop(subject, None)

    def own_token(self, subject: str, generation: int | None = None) -> str | None:
        """The user's own token as of the catalog ``generation`` a request was governed
        by: ``users`` bumps it in the same transaction as a change of the number, so a
        change made by any process (another replica, the CLI on the host) governs the
        next request here (red team 36's left row: a minute's cache). Without a
        generation (a comparison's own record), re-read at most once a minute."""
        now = time.monotonic()
        cached = self._own.get(subject)
        if cached is None or not _fresh(cached, generation, now):
            try:
                with self._sessions() as session:
                    user = session.get(User, subject)
                    cached = (generation, now, user.id_number_hash if user else None)
            except SQLAlchemyError as exc:
                # the rows are already sent: record the completion without this check
                log.warning("own_token_lookup_failed", error=type(exc).__name__)
                return None
            self._own[subject] = cached
        return cached[2]


def _fresh(cached: tuple[int | None, float, str | None], generation: int | None,
           now: float) -> bool:  # fmt: skip
    """Whether a cached own token still holds: read under ``generation`` when one is
    known, else within ``OWN_TOKEN_TTL_S``."""
    if generation is not None:
        return cached[0] == generation
    return now - cached[1] <= OWN_TOKEN_TTL_S
