"""From an allowed decision to a frozen plan: what to read, how to mask it, how much.

Pure: no I/O, no clock, nothing recorded. Whatever differs between an ordinary query and
a comparison side (``SideOverrides``: the key always as its hash token, read whole up to
a ceiling, the subject tokens carried along) is decided *here*, before the start is on
record, so ``query.started`` says what actually runs. The plan is frozen: nothing after
this step can change what the record says.

Defence in depth behind the policy: the source only ever filters or sorts on fields the
decision releases in clear; masked fields only by equality on their hash token, applied
after masking (``post_filters``).
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field, replace
from types import MappingProxyType

from adapters.base import Column, Filter, QueryPlan, RowFilter
from catalog.errors import BadRequest, Forbidden, RateLimited, Unprocessable
from catalog.mask_specs import parse_mask_spec
from catalog.reserved_names import read_time_refused
from catalog.vocabulary import MaskMethod
from gateway.enforcement.masking import needs_case_key
from gateway.enforcement.masking.dates import scoped_shift_key
from gateway.enforcement.query.aggregate import (
    SUPPRESSED,
    AggregateExec,
    function_text,
    plan_aggregate,
)
from gateway.enforcement.query.authorize import action, method, released
from gateway.enforcement.query.context import QueryContext
from gateway.enforcement.query.subjects import id_fields
from gateway.enforcement.query.validate import build_filters, build_order
from policies.decision import Decision

# each batch exists as rows, Arrow, masked Arrow and bytes at once: 32k rows keep a
# 1,000,000-row stream's peak memory bounded at little throughput cost
STREAM_BATCH_ROWS = 32_768
QUOTA_USED_UP = "daily row quota used up; it resets at midnight UTC"
CLEAR_KEY_LABEL = b"sluice-comparison-clear-key-v1"


@dataclass(frozen=True, slots=True)
class SideOverrides:
    """How a comparison side differs from the query it otherwise is."""

    label: str  # "left" or "right"
    key: str  # matched as its hash token under the case key, whatever policy released
    max_rows: int  # read whole up to this; more is refused by the comparison, never cut
    # an approved re-identification (issue 15): the key is read in clear, only for the
    # gateway to pick the approved hits' rows by their tokens (comparison.reidentify)
    reveal_key: bool = False


@dataclass(frozen=True, slots=True)
class OutputColumn:
    """One column of the result and how policy released it (the result's header)."""

    name: str
    action: str
    method: str | None

    def header(self) -> dict[str, str | None]:
        return {"name": self.name, "action": self.action, "method": self.method}


@dataclass(frozen=True, slots=True)
class ExecutionPlan:
    """Everything the run needs, fixed before the start is recorded."""

    source: QueryPlan  # what the adapter is asked for
    masks: Mapping[str, str]  # column -> mask method, for every masked column read
    hash_key: bytes | None  # the case key, when a ``hash`` mask or token filter needs it
    post_filters: tuple[Filter, ...]  # token equality on masked fields, after masking
    limit: int  # most rows the result may hold
    skip: int  # rows to drop after the token filters (the offset, when there are any)
    columns: tuple[OutputColumn, ...]  # the result's columns, as released
    requested: tuple[str, ...]  # what the analyst asked for
    output: tuple[str, ...] | None = None  # columns to send when more were read
    subject_column: str | None = None
    aggregate: AggregateExec | None = None  # an aggregate query's grouping (issue 16)
    # ``date_shift``'s: the same in every case (red team 36), the entry's own (red team 37)
    shift_key: bytes | None = None
    # a column hashed under a key other than ``hash_key``: a comparison side's clear key
    # (``clear_key_tokens``), that key alone (red team 37)
    key_hashes: Mapping[str, bytes] = field(default_factory=lambda: MappingProxyType({}))
    # the columns read that the entry classes as resident ID numbers: their ``hash``
    # tokens (a comparison side's key too) are made of the canonical spelling (stop 37)
    id_numbers: frozenset[str] = frozenset()

    @property
    def delivered(self) -> tuple[str, ...]:
        """The columns the result carries: the requested ones policy did not deny."""
        return tuple(c.name for c in self.columns)

    def within(self, rows: int) -> ExecutionPlan:
        """The same plan cut to ``rows`` (what the quota reservation granted)."""
        if rows >= self.limit:
            return self
        source = self.source
        if source.limit is not None:  # one row more than allowed tells us it was cut
            source = replace(source, limit=rows + 1)
        return replace(self, limit=rows, source=source)


def plan_query(
    ctx: QueryContext,
    decision: Decision,
    *,
    rows_left: int,
    case_key: Callable[[str], bytes],
    side: SideOverrides | None = None,
    shift_key: bytes | None = None,
    granted: Collection[str] = (),
) -> ExecutionPlan:
    """The plan of an allowed query; ``Forbidden`` for a filter or order the decision
    does not release, ``RateLimited`` when no row is left today. ``shift_key``: the key
    of ``date_shift`` masks, which no case reference changes (``SubjectTokens``);
    ``granted``: the entry's fields some grant of the caller's releases in clear in any
    case (``granted_field_key``)."""
    body = ctx.body
    _refuse_reserved_names(ctx)
    if body.aggregates:
        return _aggregate_plan(ctx, decision, rows_left=rows_left, side=side)
    allowed = released(decision, ctx.requested)
    masked_anywhere = {n for n, fa in decision.fields.items() if fa.action == "mask"}
    pushed, post = build_filters(body, ctx.entry, masked_anywhere)
    _check_filters(decision, pushed, post, [o.field for o in body.orders()])
    limit = min(body.limit or decision.max_rows, decision.max_rows, max(rows_left, 0))
    if limit <= 0:
        raise RateLimited(QUOTA_USED_UP)
    # a token filter on a masked field the caller did not ask to see: read and mask it
    # too, filter, then drop it before encoding
    extra = list(dict.fromkeys(f.field for f in post if f.field not in allowed))
    masks = {n: _method_of(decision, n) for n in [*allowed, *extra]
             if action(decision, n) == "mask"}  # fmt: skip
    columns = tuple(OutputColumn(n, action(decision, n), method(decision, n)) for n in allowed)
    # read for the trail alone, never sent: whom the rows name and where they are
    trail, subject = _for_the_trail(ctx, [*allowed, *extra], side)
    source = _source_plan(ctx, decision, [*allowed, *extra, *trail], pushed,
                          limit=limit, post=bool(post))  # fmt: skip
    if side is not None:
        masks, columns = _key_as_token(side, allowed, masks, columns)
        limit, source = _read_whole(side, source)
    hash_key = _case_key_for(masks, bool(post), body.case_ref, case_key)
    return ExecutionPlan(
        source=source,
        masks=MappingProxyType(masks),
        hash_key=hash_key,
        post_filters=tuple(post),
        limit=limit,
        skip=body.offset if post else 0,
        columns=columns,
        requested=ctx.requested,
        output=tuple(allowed) if extra or trail else None,
        subject_column=subject,
        shift_key=_entry_shift_key(shift_key, ctx.entry.id, masks),
        key_hashes=MappingProxyType(
            {
                **_granted_keys(ctx.entry.id, masks, granted, hash_key, side),
                **_side_key(side, decision, hash_key, granted),
            }
        ),
        id_numbers=frozenset(id_fields(ctx.entry, [c.name for c in source.columns])),
    )


def _refuse_reserved_names(ctx: QueryContext) -> None:
    """422 for an entry with a field named as a column of the gateway's own on a
    comparison side (``reserved_names.read_time_refused``): a side took such a field for
    the people it matched, and wrote its values (a raw ID number, a made-up token) to
    the trail as the subject tokens (red team 37); a Spark side's ``__county`` stood
    beside a field so named (red team 40). A source column may take any identifier, so
    the name is refused where it is read, by queries too (one rule for every read)."""
    taken = next((f.name for f in ctx.entry.fields if read_time_refused(f.name)), None)
    if taken is not None:
        raise Unprocessable(
            f"entry {ctx.entry.id!r} has a field named {taken!r}, a name the gateway "
            "keeps for its own columns: its steward must rename the source's column"
        )


def _for_the_trail(
    ctx: QueryContext, read: list[str], side: SideOverrides | None
) -> tuple[list[str], str | None]:
    """The columns read beside ``read`` for the trail alone (never sent), and a
    comparison side's subject column: a query reads ``_trail_only``; a side the
    ID-number field its rows and matches are named by (``_subject_column``) when it
    does not read it already."""
    if side is None:
        return _trail_only(ctx, read), None
    subject = _subject_column(ctx)
    return ([subject] if subject is not None and subject not in read else []), subject


def _trail_only(ctx: QueryContext, read: list[str]) -> list[str]:
    """The entry's ID-number fields and region field that ``read`` leaves out: read
    beside it, never sent, so that the trail names the people whose records a query
    returned (``subject_tokens``: "who looked up whom") and the counties it read (the
    per-user baseline), whatever columns the caller asked for. Taken from the columns
    asked for alone, a query of names and phone numbers, or of one person found by a
    filter on a field released in clear, named nobody (red team 20)."""
    entry = ctx.entry
    wanted = [f.name for f in entry.fields if f.pi_category == "id_number"]
    if entry.region_field:
        wanted.append(entry.region_field)
    known = {f.name for f in entry.fields}
    return [n for n in dict.fromkeys(wanted) if n in known and n not in read]


def _entry_shift_key(key: bytes | None, entry: str, masks: Mapping[str, str]) -> bytes | None:
    """The entry's own date-shift key, when a mask shifts dates (``mask_batch`` scopes it
    to each column): one entry's shifts tell nothing of another's (red team 37)."""
    return scoped_shift_key(key, entry) if key is not None and _shifts(masks) else None


def _shifts(masks: Mapping[str, str]) -> bool:
    """Whether a ``date_shift`` is among ``masks``."""
    return any(parse_mask_spec(m).method is MaskMethod.DATE_SHIFT for m in masks.values())


def clear_key_tokens(case_key: bytes) -> bytes:
    """The key of a comparison's tokens of a key released in clear (not ``case_key``)."""
    return hmac.new(case_key, CLEAR_KEY_LABEL, hashlib.sha256).digest()


def _side_key(
    side: SideOverrides | None, decision: Decision, key: bytes | None,
    granted: Collection[str] = (),
) -> Mapping[str, bytes]:  # fmt: skip
    """The plan's ``key_hashes``: a comparison side whose key policy releases in clear
    hashes that key under a key of its own (``clear_key_tokens``). Under the case key,
    its hits' tokens were those of the ``hash`` mask of values the analyst reads in
    clear: a dictionary that turned another entry's hash-masked field back into its
    values (red team 36). The key alone: the fields the side shows masked keep the case
    key, as a query shows them — hashed under the key of the clear key's tokens, they
    were looked up in that same dictionary (red team 37). Keys masked alike keep the
    case key, so a token filter still finds a hit's rows. A key some grant of the
    caller's releases in clear in another case (``granted``) is hashed as a clear one:
    ``check_keys_alike`` counts it as clear, and under the case key its hits' tokens
    beside the rows' clear fields were a codebook of the case's tokens of every field
    masked with ``hash`` (red team 39)."""
    if side is None or side.reveal_key or key is None:
        return MappingProxyType({})
    if action(decision, side.key) != "allow" and side.key not in granted:
        return MappingProxyType({})
    return MappingProxyType({side.key: clear_key_tokens(key)})


GRANTED_FIELD_LABEL = b"sluice-granted-field-v1"
CASE_KEYED_TOKENS = (MaskMethod.HASH, MaskMethod.ID_NUMBER_FPE)


def case_tokens(decision: Decision) -> bool:
    """Whether the decision masks a field with a case's tokens or pseudonyms (what
    ``_granted_keys`` may key otherwise)."""
    return any(fa.action == "mask" and fa.method is not None and case_keyed(fa.method)
               for fa in decision.fields.values())  # fmt: skip


def case_keyed(spec: str) -> bool:
    """Whether a mask spec keys its values by the case (``hash``, ``id_number_fpe``)."""
    try:
        return parse_mask_spec(spec).method in CASE_KEYED_TOKENS
    except ValueError:  # not a mask this gateway knows: it keys nothing
        return False


def granted_field_key(case_key: bytes, entry: str, name: str) -> bytes:
    """The key of a field's tokens (``hash``) or pseudonyms (``id_number_fpe``) for a
    caller who holds it in clear under another case: scoped to the entry and field,
    where everyone else's are the case's, the same for every field."""
    scope = b"\0".join((GRANTED_FIELD_LABEL, entry.encode(), name.encode()))
    return hmac.new(case_key, scope, hashlib.sha256).digest()


def _granted_keys(
    entry: str, masks: Mapping[str, str], granted: Collection[str], key: bytes | None,
    side: SideOverrides | None,
) -> dict[str, bytes]:  # fmt: skip
    """The masked fields ``granted`` names, keyed by ``granted_field_key``. Under the
    case key, a field read in clear under one case and masked under another paired its
    tokens with its values: a codebook of that case's tokens for every field masked
    alike, another department's ID numbers with them (stop 34). A comparison side's key
    is hashed as a clear key's (``_side_key``): it matches only what
    ``check_keys_alike`` lets it, the other key held in clear too."""
    if key is None or not granted:
        return {}
    return {name: granted_field_key(key, entry, name) for name, spec in masks.items()
            if name in granted and (side is None or name != side.key)
            and case_keyed(spec)}  # fmt: skip


def _case_key_for(
    masks: Mapping[str, str], token_filters: bool, case_ref: str,
    case_key: Callable[[str], bytes],
) -> bytes | None:  # fmt: skip
    """The per-case key when a keyed mask or a token filter needs one. Keyed masks
    (tokens, date shifts, FF3-1 pseudonyms) are keyed per case: with no case there is no
    key, and one shared key would link every case-less query to every other (400)."""
    keyed = sorted(n for n, m in masks.items() if needs_case_key(m))
    if not keyed and not token_filters:
        return None
    if not case_ref:
        raise BadRequest(
            "a case reference (case_ref) is required: "
            f"{', '.join(keyed) or 'the filtered fields'} are masked with per-case keys"
        )
    return case_key(case_ref)


def _aggregate_plan(
    ctx: QueryContext, decision: Decision, *, rows_left: int, side: SideOverrides | None
) -> ExecutionPlan:
    """An aggregate query (issue 16): the source groups every row the row filter leaves;
    suppression, the caller's filters (group fields only), order and the limit apply to
    the groups (``aggregate``). Nothing is masked: no value of a row leaves."""
    body = ctx.body
    if side is not None:
        raise BadRequest("a comparison side cannot be an aggregate query")
    pushed, post = build_filters(body, ctx.entry, set())
    if post:  # check_request allows group fields only, which policy releases in clear
        raise Forbidden("an aggregate query filters on fields released in clear only")
    _check_filters(decision, pushed, [], [])
    limit = min(body.limit or decision.max_rows, decision.max_rows, max(rows_left, 0))
    if limit <= 0:
        raise RateLimited(QUOTA_USED_UP)
    spec = plan_aggregate(body, ctx.entry, decision, pushed, _row_filter(decision),
                          STREAM_BATCH_ROWS)  # fmt: skip
    columns = (
        *(OutputColumn(c.name, "allow", None) for c in spec.group_by),
        *(OutputColumn(o.alias, "aggregate", function_text(o.fn, o.field))
          for o in spec.outputs),
        OutputColumn(SUPPRESSED, "suppressed", None),
    )  # fmt: skip
    return ExecutionPlan(
        source=spec.source.rows, masks=MappingProxyType({}), hash_key=None, post_filters=(),
        limit=limit, skip=0, columns=columns, requested=ctx.requested, aggregate=spec,
    )  # fmt: skip


def _method_of(decision: Decision, name: str) -> str:
    """A masked field's method (``redact`` when the policy names none)."""
    return method(decision, name) or "redact"


def _key_as_token(
    side: SideOverrides, allowed: list[str], masks: dict[str, str],
    columns: tuple[OutputColumn, ...],
) -> tuple[dict[str, str], tuple[OutputColumn, ...]]:  # fmt: skip
    """A comparison side matches on tokens only, whatever policy released: the raw key
    never leaves."""
    if side.key not in allowed:  # policy refuses a named hidden field; belt and braces
        raise Forbidden(f"the {side.label} key {side.key!r} is not released to you")
    if side.reveal_key:
        clear = OutputColumn(side.key, "reidentified", None)
        return ({n: m for n, m in masks.items() if n != side.key},
                tuple(clear if c.name == side.key else c for c in columns))  # fmt: skip
    hashed = OutputColumn(side.key, "mask", "hash")
    return ({**masks, side.key: "hash"},
            tuple(hashed if c.name == side.key else c for c in columns))  # fmt: skip


def _read_whole(side: SideOverrides, source: QueryPlan) -> tuple[int, QueryPlan]:
    """A side is read up to the comparison's ceiling, from its first row."""
    if source.limit is None:  # token filters: cut after masking, at the limit
        return side.max_rows, source
    # one more row than the ceiling tells us it was cut
    return side.max_rows, replace(source, limit=side.max_rows + 1, offset=0)


def _source_plan(
    ctx: QueryContext, decision: Decision, read: list[str], pushed: list[Filter], *,
    limit: int, post: bool,
) -> QueryPlan:  # fmt: skip
    """What the adapter is asked for. With token filters (``post``) the source cannot
    count or skip the rows that will be sent: they are cut after masking instead."""
    entry, body = ctx.entry, ctx.body
    types = {f.name: f.type for f in entry.fields}
    return QueryPlan(
        object_name=entry.object_name,
        columns=tuple(Column(n, types[n]) for n in read),
        known_columns=tuple(Column(f.name, f.type) for f in entry.fields),
        filters=tuple(pushed),
        row_filter=_row_filter(decision),
        order_by=tuple(build_order(body)),
        limit=None if post else limit + 1,  # one row more tells us it was cut
        offset=0 if post else body.offset,
        batch_size=STREAM_BATCH_ROWS,
    )


def _check_filters(
    decision: Decision, pushed: list[Filter], post: list[Filter], order: list[str]
) -> None:
    for flt in post:
        if method(decision, flt.field) != "hash" or flt.op != "=":
            raise Forbidden(
                f"filter on masked field {flt.field!r}: only equality on its hash token"
            )
    for name in [f.field for f in pushed] + order:
        if action(decision, name) != "allow":
            raise Forbidden(f"filtering or sorting on {name!r} is refused")


def _subject_column(ctx: QueryContext) -> str | None:
    """A comparison side's field naming people, whose subject tokens ride along until
    the matches are known: its key if an ID number, else the first ID-number field it
    reads (the key comes first in what a side requests), else the entry's first
    ID-number field, read beside for the trail alone and never sent (a side keyed on
    names and showing phone numbers named no one: red team 36, as ``_trail_only`` for a
    query); None: the entry names no one."""
    ids = [f.name for f in ctx.entry.fields if f.pi_category == "id_number"]
    return next((name for name in ctx.requested if name in ids), ids[0] if ids else None)


def _row_filter(decision: Decision) -> RowFilter | None:
    if not decision.row_filter:
        return None
    return RowFilter(
        field=decision.row_filter["field"],
        prefixes=tuple(decision.row_filter.get("prefixes") or ()),
    )
