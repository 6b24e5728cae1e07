"""JSON and NDJSON rows built column-wise with ``pyarrow.compute`` (``json_rows``).

Each column becomes an array of JSON fragments, and one element-wise join with the
``{"name":`` key literals gives every row's text in one buffer. The output parses to
exactly what ``orjson.dumps(row)`` of ``batch.to_pylist()`` would give (non-finite
floats as ``null``); types without a vectorised form go through orjson value by value.
Small batches take the per-row path (``SMALL_BATCH_ROWS``): there the kernel calls'
fixed cost outweighs the rows.
"""

from __future__ import annotations

import struct
from typing import Any, TypeAlias

import orjson
import pyarrow as pa
import pyarrow.compute as pc

SMALL_BATCH_ROWS = 256  # below this, orjson per row beats ~40 kernel calls (~1 ms)
_JSON_SPECIAL = r'[\x00-\x1f"\\]'
_SHORT_ESCAPES = {"\b": "\\b", "\t": "\\t", "\n": "\\n", "\f": "\\f", "\r": "\\r"}
_ESCAPES = [("\\", "\\\\"), ('"', '\\"')] + [
    (chr(c), _SHORT_ESCAPES.get(chr(c), f"\\u{c:04x}")) for c in range(0x20)
]
_TEXT = pa.large_string()
_Part: TypeAlias = pa.Array | str


def typed_text(value: str, like: pa.Array | None = None) -> pa.Scalar:
    """A typed scalar: kernels given a bare ``str`` spend ~0.2 ms inferring its type."""
    return pa.scalar(value, pa.string() if like is None else like.type)


def value_bytes(arr: pa.Array) -> pa.Buffer:
    """The bytes of all values of a (large_)string array, as one zero-copy buffer."""
    width = 8 if pa.types.is_large_string(arr.type) else 4
    fmt = "<q" if width == 8 else "<i"
    offsets, data = arr.buffers()[1], arr.buffers()[2]
    if data is None:
        return pa.py_buffer(b"")
    (start,) = struct.unpack_from(fmt, offsets, arr.offset * width)
    (stop,) = struct.unpack_from(fmt, offsets, (arr.offset + len(arr)) * width)
    return data.slice(start, stop - start)


def any_match(arr: pa.Array, pattern: str) -> bool:
    """Whether ``pattern`` may match in any value: one RE2 scan of the values' bytes
    taken as a single string (no per-row overhead). A match across two values' boundary
    is possible, so ``True`` only says the values are worth checking one by one."""
    data = value_bytes(arr)
    if not data.size:
        return False
    whole = pa.Array.from_buffers(
        pa.large_string(), 1, [None, pa.py_buffer(struct.pack("<qq", 0, data.size)), data]
    )
    return bool(pc.match_substring_regex(whole, pattern)[0].as_py())


def json_escape(values: pa.Array) -> pa.Array:
    """Each string's JSON body (without the quotes): backslash, double quote and
    U+0000–U+001F escaped as orjson does; other characters stay as UTF-8."""
    if not any_match(values, _JSON_SPECIAL):
        return values
    needs = pc.fill_null(pc.match_substring_regex(values, _JSON_SPECIAL), False)
    subset = pc.filter(values, needs)
    present = value_bytes(subset).to_pybytes()
    for char, escaped in _ESCAPES:
        if char.encode() in present:
            subset = pc.replace_substring(subset, char, escaped)
    return pc.replace_with_mask(values, needs, subset)


def _float_text(values: pa.Array) -> pa.Array:
    """Shortest round-trip text; integral values keep a ``.0`` (``1.0``, ``-0.0``)
    as orjson writes them; NaN and ±inf become null (JSON has neither)."""
    values = values.cast(pa.float64())  # float32 as the Python float to_pylist gives
    text = values.cast(pa.string())
    absent = pa.scalar(-1, pa.int32())  # typed: a bare int costs ~0.1 ms of dispatch
    plain = pc.and_(
        pc.equal(pc.find_substring(text, "."), absent),
        pc.equal(pc.find_substring(text, "e"), absent),
    )
    point = pc.binary_join_element_wise(text, typed_text(".0", text), typed_text("", text))
    text = pc.if_else(plain, point, text)
    return pc.if_else(pc.is_finite(values), text, pa.scalar(None, pa.string()))


def _timestamp_text(values: pa.Array) -> pa.Array:
    """``YYYY-MM-DDTHH:MM:SS[.ffffff]``, orjson's form of a naive datetime."""
    text = values.cast(pa.timestamp("us")).cast(pa.string())  # "… HH:MM:SS.ffffff"
    text = pc.replace_substring(text, " ", "T", max_replacements=1)
    return pc.replace_substring(text, ".000000", "", max_replacements=1)


def _orjson_values(values: pa.Array) -> pa.Array:
    """The fallback: orjson's text of each value, as the per-row path writes it."""
    texts = [orjson.dumps(v) for v in values.to_pylist()]
    return pa.array(texts, pa.binary()).view(pa.string())  # orjson writes valid UTF-8


def json_fragments(values: pa.Array) -> tuple[_Part, bool]:
    """One column as JSON: ``(fragments, quote)``. ``fragments`` is a string array with
    no nulls, or one literal when every row has the same text (``null``); ``quote``
    means the fragments are string bodies the caller must wrap in double quotes (only
    when there is no null)."""
    kind = values.type
    if pa.types.is_dictionary(kind):
        return json_fragments(values.dictionary_decode())
    if values.null_count == len(values):
        return "null", False
    text: pa.Array
    quote = True
    if pa.types.is_string(kind) or pa.types.is_large_string(kind):
        text = json_escape(values)
    elif pa.types.is_date(kind):
        text = values.cast(pa.string())
    elif pa.types.is_timestamp(kind) and kind.tz is None and kind.unit != "ns":
        text = _timestamp_text(values)
    else:
        quote = False
        if pa.types.is_integer(kind):
            text = values.cast(pa.string())
        elif pa.types.is_floating(kind):
            text = _float_text(values)
        elif pa.types.is_boolean(kind):
            text = pc.if_else(values, typed_text("true"), typed_text("false"))
        else:
            return _orjson_values(values), False
    if quote and text.null_count:
        mark = typed_text('"', text)
        text, quote = pc.binary_join_element_wise(mark, text, mark, typed_text("", text)), False
    return (pc.fill_null(text, typed_text("null", text)) if text.null_count else text), quote


def json_rows(batch: pa.RecordBatch, *, before: str = "", after: str = "") -> pa.Array:
    """``before + orjson.dumps(row) + after`` for every row, as one ``large_string``
    array (its values lie back to back in one buffer)."""
    parts: list[_Part] = []
    literal = before + "{"
    for index, name in enumerate(batch.schema.names):
        fragments, quote = json_fragments(batch.column(index))
        literal += ("," if index else "") + orjson.dumps(name).decode() + ":"
        if isinstance(fragments, str):
            literal += fragments
            continue
        parts += [literal + ('"' if quote else ""), fragments.cast(_TEXT)]
        literal = '"' if quote else ""
    parts.append(literal + "}" + after)
    if len(parts) == 1:  # no column varies: every row is the same literal
        return pa.array([parts[0]] * batch.num_rows, _TEXT)
    typed = [pa.scalar(p, _TEXT) if isinstance(p, str) else p for p in parts]
    return pc.binary_join_element_wise(*typed, pa.scalar("", _TEXT))


def json_lines(batch: pa.RecordBatch, *, before: str = "", after: str = "", skip: int = 0) -> bytes:
    """The bytes of ``json_rows`` back to back, less the first ``skip`` bytes."""
    if batch.num_rows < SMALL_BATCH_ROWS:
        return dict_lines(batch.to_pylist(), before=before, after=after, skip=skip)
    data = value_bytes(json_rows(batch, before=before, after=after))
    out: bytes = data.slice(skip).to_pybytes()
    return out


def dict_lines(
    rows: list[dict[str, Any]], *, before: str = "", after: str = "", skip: int = 0
) -> bytes:
    """``before + orjson.dumps(row) + after`` of each row back to back, less the first
    ``skip`` bytes: a small batch's rows (``to_pylist``), or a small answer's
    (``gateway.enforcement.query.small_answer``)."""
    head, tail = before.encode(), after.encode()
    return b"".join(head + orjson.dumps(r) + tail for r in rows)[skip:]
