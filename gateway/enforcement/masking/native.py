"""Single-pass native kernels for ``id_number_partial``, ``name_surname``,
``phone_partial`` and ``bank_card_last4`` (``_partial_masks.c``): on a large stream the
vectorised versions, up to ~15 Arrow kernels per column, were most of masking's 16-18%
share of the time.

The kernels handle only values of the plain expected shape and flag the rest, which
the vectorised mask (the reference) masks here; so the result is the vectorised one
wherever the kernel declines, and the tests check it equal everywhere. Without the
extension (no compiler at install time) everything goes the vectorised way.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from types import ModuleType

import pyarrow as pa
import pyarrow.compute as pc

from catalog.vocabulary import COMPOUND_SURNAMES, MaskMethod

_kernel: ModuleType | None
try:
    _kernel = importlib.import_module("gateway.enforcement.masking._partial_masks")
except ImportError:  # built optionally: the vectorised masks do everything
    _kernel = None

KINDS: dict[str, int] = {
    MaskMethod.ID_NUMBER_PARTIAL: 0,
    MaskMethod.NAME_SURNAME: 1,
    MaskMethod.PHONE_PARTIAL: 2,
    MaskMethod.BANK_CARD_LAST4: 3,
}
# sorted: the kernel finds a compound surname by bisection
_COMPOUND = b"".join(sorted(name.encode("utf-8") for name in COMPOUND_SURNAMES))
if any(len(name.encode("utf-8")) != 6 for name in COMPOUND_SURNAMES):  # pragma: no cover
    raise RuntimeError("compound surnames must be two 3-byte characters each")


def available() -> bool:
    return _kernel is not None


def mask_text(
    values: pa.Array, method: str, vectorised: Callable[[pa.Array], pa.Array], *,
    native: bool = True,
) -> pa.Array:  # fmt: skip
    """``vectorised(values)``, computed natively where the kernel handles the value."""
    kind = KINDS.get(method)
    if _kernel is None or kind is None or not native or len(values) == 0:
        return vectorised(values)
    count = len(values)
    _validity, offsets, data = values.buffers()
    wide = pa.types.is_large_string(values.type) or pa.types.is_large_binary(values.type)
    raw = data if data is not None else pa.py_buffer(b"")
    new_offsets, new_data, handled = _kernel.mask(
        kind, offsets, raw, values.offset, count, wide, _COMPOUND
    )
    out = pa.Array.from_buffers(
        values.type, count, [None, pa.py_buffer(new_offsets), pa.py_buffer(new_data)]
    )
    if not values.null_count and 0 not in handled:
        return out  # every value of the plain shape (the common case): no Arrow kernel
    flags = pa.Array.from_buffers(pa.uint8(), count, [None, pa.py_buffer(handled)])
    declined = pc.equal(flags, 0)
    if values.null_count:
        declined = pc.and_(declined, pc.is_valid(values))
    if pc.any(declined).as_py():
        out = pc.replace_with_mask(out, declined, vectorised(values.filter(declined)))
    if values.null_count:
        out = pc.if_else(pc.is_valid(values), out, pa.scalar(None, values.type))
    return out
