"""``mask_array`` / ``mask_batch``: the masking entry points the query broker calls.

Methods are looked up in one registry keyed by ``catalog.vocabulary.MaskMethod``;
an unknown method raises (a typo in a policy must fail the request, never let the
column through unmasked).

The masks of issue 16 (``amounts``, ``dates``, ``fpe``, ``steward``) are named by a mask
spec (``catalog.mask_specs``: ``round:100``, ``keep_last:4`` …), parsed before any
value is read; they always take their vectorised path (``fpe`` is per distinct value).
``KEYED`` methods need the case key (``derive_case_key``): without it they raise.
A field classed as a resident ID number is spelt canonically before ``hash`` tokenises
it (``id_spelling``: one person, one token, whatever a department's spelling).

Arrays of at most ``small.SMALL_MAX`` values are masked in plain Python per value
(``gateway.enforcement.masking.small``): the vectorised kernels' fixed cost per call dominates a
20-row query. The small path gives the same values, nulls and type, and hands any value
it is unsure of to the vectorised path.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping

import pyarrow as pa

from catalog.mask_specs import MaskSpec, parse_mask_spec
from catalog.vocabulary import MaskMethod
from gateway.enforcement.masking import amounts, dates, fpe, native, partial, small, steward
from gateway.enforcement.masking.id_spelling import canonical_column
from gateway.enforcement.masking.kernels import as_text, per_distinct
from gateway.enforcement.masking.tokens import hash_array

TextMask = Callable[[pa.Array], pa.Array]

TEXT_MASKS: dict[str, TextMask] = {
    MaskMethod.ID_NUMBER_PARTIAL: partial.id_number_partial,
    MaskMethod.PHONE_PARTIAL: partial.phone_partial,
    MaskMethod.NAME_SURNAME: partial.name_surname,
    MaskMethod.BANK_CARD_LAST4: partial.bank_card_last4,
    MaskMethod.ADDRESS_DISTRICT: partial.address_district,
}


KEYED: frozenset[str] = frozenset(
    {MaskMethod.HASH, MaskMethod.DATE_SHIFT, MaskMethod.ID_NUMBER_FPE}
)
"""Methods keyed by the case (``hash`` tokens, date shifts, FF3-1 pseudonyms)."""
_SPEC_MASKS = frozenset(
    {
        MaskMethod.ROUND, MaskMethod.BUCKET, MaskMethod.DATE_MONTH, MaskMethod.DATE_SHIFT,
        MaskMethod.ID_NUMBER_FPE, MaskMethod.KEEP_FIRST, MaskMethod.KEEP_LAST,
        MaskMethod.REPLACE,
    }
)  # fmt: skip


def needs_case_key(method: str) -> bool:
    """Whether ``method`` is keyed by the case: the broker then passes ``hash_key``.
    An invalid spec raises (``ValueError``), as ``mask_array`` would."""
    return parse_mask_spec(method).method in KEYED


def _spec_mask(
    arr: pa.Array | pa.ChunkedArray, spec: MaskSpec, hash_key: bytes | None,
    shift_key: bytes | None,
) -> pa.Array:  # fmt: skip
    method = spec.method
    if method in KEYED and hash_key is None:
        raise ValueError(f"the {method.value} mask needs a case key (derive_case_key)")
    if method is MaskMethod.DATE_SHIFT and shift_key is not None:
        return dates.date_shift(arr, shift_key)
    if method is MaskMethod.ROUND and spec.step is not None:
        return amounts.round_to_step(arr, spec.step)
    if method is MaskMethod.BUCKET:
        return amounts.bucket(arr, spec.bounds)
    if method is MaskMethod.DATE_MONTH:
        return dates.date_month(arr)
    if method is MaskMethod.DATE_SHIFT and hash_key is not None:
        return dates.date_shift(arr, hash_key)
    if method is MaskMethod.ID_NUMBER_FPE and hash_key is not None:
        return fpe.encrypt_id_numbers(as_text(arr), hash_key)
    return steward.steward_mask(as_text(arr), spec)


def _contiguous(values: pa.Array | pa.ChunkedArray) -> pa.Array:
    if isinstance(values, pa.ChunkedArray):
        return values.combine_chunks() if values.num_chunks != 1 else values.chunk(0)
    return values


def _vectorised_text(text: pa.Array, method: str, hash_key: bytes | None) -> pa.Array:
    if method == MaskMethod.HASH:
        if hash_key is None:
            raise ValueError("the hash mask needs a case key (derive_case_key)")
        return hash_array(text, hash_key)
    if method == MaskMethod.BIRTH_DATE_YEAR:
        return per_distinct(text, partial.birth_date_year)
    mask = TEXT_MASKS.get(method)
    if mask is None:
        raise ValueError(f"unknown mask method {method!r}")
    return native.mask_text(text, method, mask)


def mask_array(
    arr: pa.Array | pa.ChunkedArray,
    method: str,
    *,
    hash_key: bytes | None = None,
    shift_key: bytes | None = None,
    small_max: int = small.SMALL_MAX,
    id_number: bool = False,
) -> pa.Array:
    """Mask every value of ``arr`` with ``method``.

    Up to ``small_max`` values take the per-value Python path (same answers; ``0``
    forces the vectorised one, which tests use as the reference), except for the
    methods a native kernel takes (``native.KINDS``), faster at any size.

    Output types: the partial masks and ``hash`` return strings (``large_string`` for
    ``large_string`` input); ``birth_date_year`` returns the year as a string, also for
    date/timestamp input; ``redact`` returns nulls of the input's own type. Of the
    issue-16 masks, ``round`` keeps numbers numeric, ``date_shift`` keeps the date type,
    the others return strings (each module's docstring says exactly).

    ``shift_key``: the key of ``date_shift`` when it is not ``hash_key``. The gateway
    always passes one that no case reference changes (``SubjectTokens.shift_key``): a
    date shifted under keys the analyst picks, one per case, is pinned by a few dozen
    of them (red team 36); scoped to the entry and the column (``mask_batch``), so a
    codebook learnt on one field decodes no other (red team 37).

    ``id_number``: ``arr`` is a field classed as a resident ID number; ``hash`` tokens
    and ``id_number_fpe`` pseudonyms are then made of each value's canonical spelling
    (``id_spelling``), so that two departments' spellings of one number give one token
    (stop 37) on the per-value path and the vectorised (native) one alike — a number
    stored with spaces was all stars under ``id_number_fpe``, no pseudonym at all. A
    canonical value's token does not change.
    """
    spec = parse_mask_spec(method)  # an unknown method raises before any value is read
    if spec.method in _SPEC_MASKS:
        return _spec_mask(_pseudonymised(arr, spec, id_number), spec, hash_key, shift_key)
    if spec.method is MaskMethod.DATE_YEAR:
        method = MaskMethod.BIRTH_DATE_YEAR  # the same mask under a name for any date
    if method == MaskMethod.REDACT:
        return pa.nulls(len(arr), _contiguous(arr).type)
    if method == MaskMethod.HASH and hash_key is None:
        raise ValueError("the hash mask needs a case key (derive_case_key)")
    if method not in TEXT_MASKS and method not in (MaskMethod.HASH, MaskMethod.BIRTH_DATE_YEAR):
        raise ValueError(f"unknown mask method {method!r}")  # before any value is read
    few = len(arr) <= small_max
    if method == MaskMethod.BIRTH_DATE_YEAR:
        values = _contiguous(arr)
        if pa.types.is_date(values.type) or pa.types.is_timestamp(values.type):
            years = small.birth_year_of_dates(values) if few else None
            return years if years is not None else per_distinct(values, partial.birth_date_year)
    text = as_text(arr)
    if id_number and method == MaskMethod.HASH:  # before any path tokenises the bytes
        text = canonical_column(text)
    if few and not (native.available() and method in native.KINDS):
        # the per-value path, where no native kernel takes the method (a kernel call on
        # 20 values is ~3-5 us, the per-value path ~35-40 us: Python strings both ways)
        masked = small.mask_small_text(text, method, hash_key)
        if masked is not None:
            return masked
    return _vectorised_text(text, method, hash_key)


def _pseudonymised(arr: pa.Array, spec: MaskSpec, id_number: bool) -> pa.Array:
    """An ID-number field as ``id_number_fpe`` encrypts it: spelt canonically, so one
    person has one pseudonym (a number stored with spaces was all stars)."""
    if id_number and spec.method is MaskMethod.ID_NUMBER_FPE:
        return canonical_column(as_text(arr))
    return arr


def mask_batch(
    batch: pa.RecordBatch, methods: Mapping[str, str], *, hash_key: bytes | None = None,
    shift_key: bytes | None = None, hash_keys: Mapping[str, bytes] | None = None,
    id_numbers: Collection[str] = (),
) -> pa.RecordBatch:  # fmt: skip
    """Mask the named columns; the others pass through unchanged, in the same order
    (``shift_key``: as ``mask_array``, scoped to each column's name here: the caller
    passes its entry's, ``ExecutionPlan.shift_key``); ``hash_keys``: the columns keyed
    otherwise than by ``hash_key`` (``ExecutionPlan.key_hashes``); ``id_numbers``: the
    columns classed as resident ID numbers (``mask_array``'s ``id_number``:
    ``ExecutionPlan.id_numbers``)."""
    unknown = set(methods) - set(batch.schema.names)
    if unknown:
        raise ValueError(f"mask for columns not in the batch: {sorted(unknown)}")
    columns: list[pa.Array] = []
    fields: list[pa.Field] = []
    for index, field in enumerate(batch.schema):
        column = batch.column(index)
        if field.name in methods:
            # each column shifts under a key of its own (red team 37: one key for all
            # made a codebook learnt on one field decode every field's dates)
            spec = methods[field.name]
            scoped = None
            if shift_key is not None and parse_mask_spec(spec).method is MaskMethod.DATE_SHIFT:
                scoped = dates.scoped_shift_key(shift_key, field.name)
            own = hash_keys.get(field.name, hash_key) if hash_keys else hash_key
            column = mask_array(column, spec, hash_key=own, shift_key=scoped,
                                id_number=field.name in id_numbers)  # fmt: skip
            field = pa.field(field.name, column.type, nullable=True, metadata=field.metadata)
        columns.append(column)
        fields.append(field)
    return pa.RecordBatch.from_arrays(
        columns, schema=pa.schema(fields, metadata=batch.schema.metadata)
    )
