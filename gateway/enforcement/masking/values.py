"""Masks on a column's Python values (a small answer with no Arrow batch:
``gateway.enforcement.query.small_answer``), with exactly the values ``mask_array``
gives back (``to_pylist``), or ``None`` (unsure: the caller masks the Arrow batch).

The values are those a batch would hold (``adapters.arrow_values``), of the column's
logical type. Covered, each by the per-value functions ``mask_array`` itself takes on a
small array (``small``) or by its definition:

- the text masks of ``small.TEXT_VALUE_MASKS`` (ID numbers, phones, names, bank cards,
  addresses, birth dates as text; ``date_year`` is ``birth_date_year``) on ``string``
  columns, unsure wherever ``small`` is; the year of ``date`` columns;
- ``hash`` on ``string`` columns (``HmacTokens.tokens``, as ``small``), an ID-number
  field's values spelt canonically first (``id_spelling``), as ``mask_array`` spells them;
- ``redact`` on any column (nulls);
- ``keep_first:n`` / ``keep_last:n`` on ``string`` columns (characters are code points,
  as in ``steward``).

Anything else — another type, ``round``, ``bucket``, ``date_month``, ``date_shift``,
``id_number_fpe``, ``replace`` (RE2 is not Python's ``re``), an invalid spec — is
unsure, and so answered by ``mask_array`` itself (which raises where it raises).
``tests/gateway/enforcement/query/test_small_answer.py`` checks every method of the
registry against ``mask_batch`` (hypothesis).
"""

from __future__ import annotations

from typing import Any

from catalog.mask_specs import MaskSpec, parse_mask_spec
from catalog.vocabulary import MaskMethod
from gateway.enforcement.masking import small
from gateway.enforcement.masking.id_spelling import canonical_id_numbers
from gateway.enforcement.masking.tokens import hmac_tokens


def mask_values(
    values: list[Any], method: str, *, hash_key: bytes | None, logical: str,
    id_number: bool = False,
) -> list[Any] | None:  # fmt: skip
    """``mask_array(values, method, id_number=id_number).to_pylist()`` for a column of
    type ``logical``, or ``None`` when that is not certain here."""
    try:
        spec = parse_mask_spec(method)
    except ValueError:  # mask_array raises it
        return None
    kind = spec.method
    if kind is MaskMethod.REDACT:
        return [None] * len(values)
    if kind in (MaskMethod.DATE_YEAR, MaskMethod.BIRTH_DATE_YEAR) and logical == "date":
        return [None if d is None else str(d.year) for d in values]
    if logical != "string":
        return None
    if kind is MaskMethod.HASH:
        if hash_key is None:
            return None
        return hmac_tokens(hash_key).tokens(canonical_id_numbers(values) if id_number else values)
    if kind in (MaskMethod.KEEP_FIRST, MaskMethod.KEEP_LAST):
        return _kept(values, spec)
    mask = small.TEXT_VALUE_MASKS.get(
        MaskMethod.BIRTH_DATE_YEAR if kind is MaskMethod.DATE_YEAR else kind
    )
    return None if mask is None else small.mask_values(values, mask)


def _kept(values: list[str | None], spec: MaskSpec) -> list[str | None] | None:
    """``steward.keep_first`` / ``keep_last``: ``n`` characters kept, one ``*`` for each
    other; a value of ``n`` characters or fewer masked whole."""
    keep = spec.keep
    if keep is None or keep < 1:
        return None
    first = spec.method is MaskMethod.KEEP_FIRST
    out: list[str | None] = []
    for value in values:
        if value is None:
            out.append(None)
        elif len(value) <= keep:
            out.append("*" * len(value))
        elif first:
            out.append(value[:keep] + "*" * (len(value) - keep))
        else:
            out.append("*" * (len(value) - keep) + value[-keep:])
    return out
