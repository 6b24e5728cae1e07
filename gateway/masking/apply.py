"""``mask_array`` / ``mask_batch``: the masking entry points the query broker calls.

Methods are looked up in one registry keyed by ``catalog.classification.MaskMethod``;
an unknown method raises (a typo in a policy must fail the request, never let the
column through unmasked).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import pyarrow as pa

from catalog.classification import MaskMethod
from gateway.masking import partial
from gateway.masking.kernels import as_text
from gateway.masking.tokens import hash_array

TextMask = Callable[[pa.Array], pa.Array]

TEXT_MASKS: dict[str, TextMask] = {
    MaskMethod.ID_NUMBER_PARTIAL: partial.id_number_partial,
    MaskMethod.PHONE_PARTIAL: partial.phone_partial,
    MaskMethod.NAME_SURNAME: partial.name_surname,
    MaskMethod.BANK_CARD_LAST4: partial.bank_card_last4,
    MaskMethod.ADDRESS_DISTRICT: partial.address_district,
}


def _contiguous(values: pa.Array | pa.ChunkedArray) -> pa.Array:
    if isinstance(values, pa.ChunkedArray):
        return values.combine_chunks() if values.num_chunks != 1 else values.chunk(0)
    return values


def mask_array(
    arr: pa.Array | pa.ChunkedArray, method: str, *, hash_key: bytes | None = None
) -> pa.Array:
    """Mask every value of ``arr`` with ``method``.

    Output types: the partial masks and ``hash`` return strings (``large_string`` for
    ``large_string`` input); ``birth_date_year`` returns the year as a string, also for
    date/timestamp input; ``redact`` returns nulls of the input's own type.
    """
    if method == MaskMethod.REDACT:
        return pa.nulls(len(arr), _contiguous(arr).type)
    if method == MaskMethod.HASH:
        if hash_key is None:
            raise ValueError("the hash mask needs a case key (derive_case_key)")
        return hash_array(as_text(arr), hash_key)
    if method == MaskMethod.BIRTH_DATE_YEAR:
        values = _contiguous(arr)
        if pa.types.is_date(values.type) or pa.types.is_timestamp(values.type):
            return partial.birth_date_year(values)
        return partial.birth_date_year(as_text(values))
    mask = TEXT_MASKS.get(method)
    if mask is None:
        raise ValueError(f"unknown mask method {method!r}")
    return mask(as_text(arr))


def mask_batch(
    batch: pa.RecordBatch, methods: Mapping[str, str], *, hash_key: bytes | None = None
) -> pa.RecordBatch:
    """Mask the named columns; the others pass through unchanged, in the same order."""
    unknown = set(methods) - set(batch.schema.names)
    if unknown:
        raise ValueError(f"mask for columns not in the batch: {sorted(unknown)}")
    columns: list[pa.Array] = []
    fields: list[pa.Field] = []
    for index, field in enumerate(batch.schema):
        column = batch.column(index)
        if field.name in methods:
            column = mask_array(column, methods[field.name], hash_key=hash_key)
            field = pa.field(field.name, column.type, nullable=True, metadata=field.metadata)
        columns.append(column)
        fields.append(field)
    return pa.RecordBatch.from_arrays(
        columns, schema=pa.schema(fields, metadata=batch.schema.metadata)
    )
