"""``address_district``: keep an address up to and including its first county-level unit
(区, 县, 旗, a 县级市 after a prefecture-level 市), then ``****``.

The rule is ``ADDRESS_PATTERN`` (RE2), and every answer is the pattern's answer. RE2
submatch extraction is the expensive step (``python -m bench.masking_design`` compares
the two ways), so it runs on *distinct prefixes* of the values rather than on the
values: addresses share a few thousand leading ``省…市…区`` prefixes, and the pattern
only ever reads an address up to its third terminator (a character outside ``_UNIT``),
because its at most three units each end at the next terminator.

Whether a prefix decides its addresses is checked with the pattern too: if the
pattern's answer on the prefix depends on what follows, the unit still open at the
prefix's end matters, and closing it as a county (appending ``_PROBE``) changes the
answer — a county completes the first alternative that was waiting for it. So a prefix
whose answer is the same with and without ``_PROBE`` (or that is the whole value)
decides every address starting with it; the other addresses take a longer prefix, and
what no prefix decides goes to the pattern whole.
"""

from __future__ import annotations

from collections.abc import Sequence

import pyarrow as pa
import pyarrow.compute as pc

ADDRESS_MASK = "****"
_UNIT = r"[^省市区县旗州盟\s]"
ADDRESS_PATTERN = (
    r"^(?P<head>"
    rf"(?:{_UNIT}+(?:省|自治区|特别行政区))?"
    rf"(?:{_UNIT}+(?:市|自治州|地区|盟))?"
    rf"{_UNIT}+(?:自治县|自治旗|区|县|旗|市)"
    r")"
)
_PROBE = "甲县"  # one unit character, then a county-level suffix
# prefix lengths tried in turn, in bytes: 9 and 21 CJK characters (most heads are 6–13)
PREFIX_BYTES = (27, 63)
# more distinct prefixes than this share of the values: the pattern on the values is cheaper
MAX_DISTINCT_SHARE = 0.25


def _head(values: pa.Array) -> pa.Array:
    """The pattern's ``head`` group; null where it does not match (or the value is null)."""
    return pc.struct_field(pc.extract_regex(values, ADDRESS_PATTERN), "head")


def _finish(values: pa.Array, head: pa.Array) -> pa.Array:
    """``head + '****'``; where there is no head, ``''`` for ``''`` and ``'****'`` else."""
    text = values.type
    masked = pc.binary_join_element_wise(
        head.cast(text), pa.scalar(ADDRESS_MASK, text), pa.scalar("", text)
    )
    empty = pc.equal(pc.binary_length(values), pa.scalar(0, pa.int32()))
    fixed = pc.if_else(empty, pa.scalar("", text), pa.scalar(ADDRESS_MASK, text))
    return pc.coalesce(masked, fixed)  # null input: both null


def address_by_pattern(values: pa.Array) -> pa.Array:
    """The slow path: the pattern on every value."""
    return _finish(values, _head(values))


def _by_prefix(values: pa.Array, nbytes: int) -> tuple[pa.Array, pa.Array] | None:
    """The answer of each value's first ``nbytes`` bytes, and whether that prefix decides
    it (null for null values); None when the prefixes are nearly as many as the values."""
    as_bytes = values.view(pa.binary() if pa.types.is_string(values.type) else pa.large_binary())
    encoded = pc.binary_slice(as_bytes, 0, nbytes).dictionary_encode()
    raw: list[bytes] = encoded.dictionary.to_pylist()
    if len(raw) > MAX_DISTINCT_SHARE * len(values) + 64:
        return None
    # a cut multi-byte character at the end is dropped (the values are valid UTF-8)
    prefixes = pa.array([p.decode("utf-8", "ignore") for p in raw], values.type)
    head = _head(prefixes)
    probe = pa.scalar(_PROBE, values.type)
    probed = _head(pc.binary_join_element_wise(prefixes, probe, pa.scalar("", values.type)))
    same = pc.fill_null(pc.equal(head, probed), pc.and_(pc.is_null(head), pc.is_null(probed)))
    whole = pa.array([len(p) < nbytes for p in raw], pa.bool_())
    decides = pc.or_(whole, same)
    return pc.take(_finish(prefixes, head), encoded.indices), pc.take(decides, encoded.indices)


def _address(values: pa.Array, prefix_bytes: Sequence[int]) -> pa.Array:
    if not prefix_bytes or len(values) == 0:
        return address_by_pattern(values)
    found = _by_prefix(values, prefix_bytes[0])
    if found is None:
        return address_by_pattern(values)
    masked, decided = found
    rest = pc.invert(pc.fill_null(decided, True))
    if not pc.any(rest).as_py():
        return masked
    repaired = _address(pc.filter(values, rest), prefix_bytes[1:])
    return pc.replace_with_mask(masked, rest, repaired)


def address_district(values: pa.Array, *, prefix_bytes: Sequence[int] = PREFIX_BYTES) -> pa.Array:
    """Keep up to and including the first county-level unit, then ``****``; ``''``
    stays ``''``; where no unit is found the whole address is ``****``."""
    return _address(values, prefix_bytes)
