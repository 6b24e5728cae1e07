"""One query of a compiled regopy bundle, with the input built and the output read
through rego-cpp's C API directly.

Input: each value is one C call (rego-cpp's ``regoInput*`` builder, the one regopy's
``Input`` uses, without its three Python calls and a copied string per value). The
builder takes C strings, so a string holding NUL would reach the engine cut short
(``"supervision\\0…"`` read as ``"supervision"``): such input is refused. Where the
optional extension ``policies._rego_native`` is built, the whole input is pushed by it in
one call (issue 17: the ctypes calls cost ~0.1 ms of a cold decision); it takes only
plain JSON shapes of their exact types, and on anything else or any refusal the input
is built again, on a fresh builder, by the Python path here, which words the refusal.

Output: the result is read by walking rego-cpp's node tree (``regoOutputNode``,
``regoNodeType``/``Size``/``Get``/``Value``), never by parsing the engine's JSON text.
That text does not escape quotes in strings, so a request string the policy echoed
could close its string and add members to the decision (issue 11, class 1). The tree
gives structure (objects, arrays, sets, their members) that no string can change. With
the extension the bound value is walked in C, check for check the same walk
(``_Reader.value``; ~0.25 ms of a cold decision in Python).

What the tree does *not* give is one spelling for strings. rego-cpp holds an input
string as its raw text, but reads any text enclosed in double quotes as a quoted
string: the input ``"supervision"`` (quotes included) *equals* ``supervision`` and the
literal ``"supervision"`` in the engine, and the field names ``""`` and `` `` (empty)
are one key. So a string that starts and ends with ``"`` is pushed with one more pair
of quotes, which the engine strips, and the reader strips one pair the same way: the
input's strings come back verbatim and compare as themselves. Ordering (``<``,
``sort``) still runs on the engine's text, so order-sensitive outputs are re-sorted by
``policies.schema``. Literals of the policy source keep their escapes (``"a\\"b"``
is reported as ``a\\"b``) and strings made by builtins (``sprintf``, ``concat``…) mix
escaped and raw text: a caller must only accept strings from closed sets
(``policies.schema`` does: fixed codes, or values of the input passed through
unchanged). Any error raises (the caller fails closed).
"""

from __future__ import annotations

import ctypes
import importlib
import os
from collections.abc import Callable, Collection, Mapping, Sequence
from collections.abc import Set as AbstractSet
from typing import Any, NamedTuple

from regopy import Bundle, Interpreter
from regopy.rego_shared import (
    rego,
    rego_bundle_query,
    rego_free_input,
    rego_free_output,
    rego_new_input,
    rego_output_ok,
    rego_output_string,
    rego_set_input,
)

_STRING = rego.regoInputString
_INT = rego.regoInputInt
_FLOAT = rego.regoInputFloat
_BOOL = rego.regoInputBoolean
_NULL = rego.regoInputNull
_ITEM = rego.regoInputObjectItem
_OBJECT = rego.regoInputObject
_ARRAY = rego.regoInputArray
_SET = rego.regoInputSet
_INT64 = range(-(2**63), 2**63)

_NODE_TYPE = rego.regoNodeType
_NODE_SIZE = rego.regoNodeSize
_NODE_GET = rego.regoNodeGet
_NODE_VALUE_SIZE = rego.regoNodeValueSize
# A private prototype of regoNodeValue taking the buffer as an address (an int): the
# shared one converts a ``POINTER(c_char)`` argument on every call.
_NODE_VALUE = rego["regoNodeValue"]
_NODE_VALUE.restype = ctypes.c_uint32
_NODE_VALUE.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_uint32]
_OUTPUT_NODE = rego.regoOutputNode
_STRING_AT = ctypes.string_at

# rego-cpp node kinds (regopy.rego_shared.NodeKind)
_K_BINDING, _K_VAR, _K_TERM, _K_SCALAR = 1000, 1001, 1002, 1003
_K_ARRAY, _K_SET, _K_OBJECT, _K_ITEM = 1004, 1005, 1006, 1007
_K_INT, _K_FLOAT, _K_STRING, _K_TRUE, _K_FALSE, _K_NULL = 1008, 1009, 1010, 1011, 1012, 1013
_K_UNDEFINED, _K_TERMS, _K_BINDINGS, _K_RESULTS, _K_RESULT = 1014, 1015, 1016, 1017, 1018


class RegoCallError(ValueError):
    """The engine refused the input or failed to evaluate the query."""


def _push(handle: ctypes.c_void_p, value: Any) -> int:
    """Push ``value`` onto the input builder's stack; non-zero means an error.

    Same conversions as ``regopy.rego_shared.rego_input_from_value`` (exact types
    first, the common case; subclasses such as a ``StrEnum`` after).
    """
    kind = type(value)
    if kind is str:
        return _push_string(handle, value)
    if kind is dict:
        return _push_object(handle, value)
    if kind is list or kind is tuple:
        return _push_items(handle, value, _ARRAY)
    if value is None:
        return int(_NULL(handle))
    if value is True or value is False:
        return int(_BOOL(handle, value))
    if isinstance(value, int):
        if value not in _INT64:
            raise RegoCallError(f"input integer {value} does not fit in 64 bits")
        return int(_INT(handle, value))
    if isinstance(value, float):
        return int(_FLOAT(handle, value))
    if isinstance(value, str):
        return _push_string(handle, str(value))
    if isinstance(value, AbstractSet):
        return _push_items(handle, value, _SET)
    if isinstance(value, Mapping):
        return _push_object(handle, value)
    if isinstance(value, Sequence):
        return _push_items(handle, value, _ARRAY)
    raise RegoCallError(f"cannot pass a {kind.__name__} to the policy")


def _push_string(handle: ctypes.c_void_p, value: str) -> int:
    if "\0" in value:
        raise RegoCallError("input strings may not contain NUL (the engine would cut them)")
    if len(value) >= 2 and value[0] == '"' and value[-1] == '"':
        value = f'"{value}"'  # rego-cpp strips one pair of enclosing quotes: keep them
    return int(_STRING(handle, value.encode("utf-8")))


def _push_object(handle: ctypes.c_void_p, value: Mapping[Any, Any]) -> int:
    failed = 0
    for key, item in value.items():
        failed |= _push(handle, key)
        failed |= _push(handle, item)
        failed |= _ITEM(handle)
    return failed | int(_OBJECT(handle, len(value)))


def _push_items(handle: ctypes.c_void_p, value: Collection[Any], close: Any) -> int:
    failed = 0
    for item in value:
        failed |= _push(handle, item)
    return failed | int(close(handle, len(value)))


class _Native(NamedTuple):
    """The optional extension's two calls (``policies/_rego_native.c``)."""

    push: Callable[[int, Any], bool]
    read: Callable[[int], Any]


def _native() -> _Native | None:
    """``policies._rego_native`` given the engine's functions, or ``None`` where the
    extension is not built (or ``SLUICE_REGO_NATIVE=0`` asks for the ctypes path)."""
    if os.environ.get("SLUICE_REGO_NATIVE") == "0":
        return None
    try:
        _rego_native = importlib.import_module("policies._rego_native")
    except ImportError:
        return None
    inputs = (_STRING, _INT, _FLOAT, _BOOL, _NULL, _ITEM, _OBJECT, _ARRAY)
    nodes = (_NODE_TYPE, _NODE_SIZE, _NODE_GET, _NODE_VALUE_SIZE, _NODE_VALUE)
    _rego_native.configure(tuple(_address(f) for f in inputs),
                           tuple(_address(f) for f in nodes), RegoCallError)  # fmt: skip
    return _Native(_rego_native.push, _rego_native.read)


def _address(function: Any) -> int:
    address = ctypes.cast(function, ctypes.c_void_p).value
    if not address:
        raise RegoCallError("regopy is missing a function of its C API")
    return address


_NATIVE: list[_Native | None] = []  # looked up on first use


def _native_calls() -> _Native | None:
    if not _NATIVE:
        _NATIVE.append(_native())
    return _NATIVE[0]


def set_input(interpreter: Interpreter, value: Any) -> None:
    """``interpreter.set_input(value)``: in one call where the extension is built, else in
    one C call per value (the engine copies it)."""
    native = _native_calls()
    handle = rego_new_input()
    try:
        if native is None or not native.push(handle, value):
            rego_free_input(handle)  # a partial push: start again on a fresh builder
            handle = rego_new_input()
            if _push(handle, value) != 0:
                raise RegoCallError("regopy could not build the policy input")
        rego_set_input(interpreter._impl, handle)
    finally:
        rego_free_input(handle)


def query_binding(bundle: Bundle, value: Any, name: str = "x") -> Any:
    """Run the bundle's query on one input; the binding ``name``, or raise."""
    interpreter = Interpreter()
    set_input(interpreter, value)
    output = rego_bundle_query(interpreter._impl, bundle._impl)
    try:
        if not rego_output_ok(output):
            raise RegoCallError(f"evaluation failed: {rego_output_string(output)}")
        return _Reader(_native_calls()).binding(_OUTPUT_NODE(output), name)
    finally:
        rego_free_output(output)


class _Reader:
    """Builds Python values from a node tree (valid only while its output lives).

    One value buffer per read, grown as needed: a ``create_string_buffer`` per string
    would cost more than the walk itself. With the extension (``native``) the bound
    value is read by its ``read``, the same walk in C.
    """

    def __init__(self, native: _Native | None = None) -> None:
        self._buffer = ctypes.create_string_buffer(256)
        self._address = ctypes.addressof(self._buffer)
        self._read = native.read if native is not None else self.value

    def binding(self, results: int | None, name: str) -> Any:
        """The value bound to ``name`` in the one result, or raise."""
        if not results or _NODE_TYPE(results) != _K_RESULTS:
            raise RegoCallError("the decision is undefined for this input")
        if _NODE_SIZE(results) != 1:
            raise RegoCallError("the query gave more than one result")
        result = _child(results, 0, _K_RESULT)
        for i in range(_NODE_SIZE(result)):
            part = _NODE_GET(result, i)
            if _NODE_TYPE(part) != _K_BINDINGS:
                continue
            for j in range(_NODE_SIZE(part)):
                binding = _child(part, j, _K_BINDING)
                if _NODE_SIZE(binding) != 2:
                    raise RegoCallError("malformed binding node")
                var = _child(binding, 0, _K_VAR)
                if self._text(var) == name:
                    return self._read(_NODE_GET(binding, 1))
        raise RegoCallError("the decision is undefined for this input")

    def value(self, node: int) -> Any:
        kind = _NODE_TYPE(node)
        if kind == _K_STRING:
            return self._text(node)
        if kind == _K_OBJECT:
            items: dict[str, Any] = {}
            for i in range(_NODE_SIZE(node)):
                item = _child(node, i, _K_ITEM)
                if _NODE_SIZE(item) != 2:
                    raise RegoCallError("malformed object item")
                key = self.value(_NODE_GET(item, 0))
                if type(key) is not str:
                    raise RegoCallError("an object key that is not a string")
                if key in items:
                    raise RegoCallError("an object key given twice")
                items[key] = self.value(_NODE_GET(item, 1))
            return items
        if kind in (_K_ARRAY, _K_SET):
            return [self.value(_NODE_GET(node, i)) for i in range(_NODE_SIZE(node))]
        if kind == _K_TRUE:
            return True
        if kind == _K_FALSE:
            return False
        if kind == _K_NULL:
            return None
        if kind == _K_INT:
            return int(self._text(node))
        if kind == _K_FLOAT:
            return float(self._text(node))
        if kind in (_K_TERM, _K_SCALAR):
            if _NODE_SIZE(node) != 1:
                raise RegoCallError("malformed term node")
            return self.value(_NODE_GET(node, 0))
        raise RegoCallError(f"unexpected node kind {kind} in the result")

    def _text(self, node: int) -> str:
        """The node's value as UTF-8, all of it (the size counts the closing NUL), with
        one pair of enclosing quotes removed, as rego-cpp itself reads a string."""
        size = _NODE_VALUE_SIZE(node)
        if size > len(self._buffer):
            self._buffer = ctypes.create_string_buffer(size)
            self._address = ctypes.addressof(self._buffer)
        if size == 0 or _NODE_VALUE(node, self._address, size) != 0:
            raise RegoCallError("cannot read a node value")
        raw = _STRING_AT(self._address, size - 1)
        if len(raw) >= 2 and raw[0] == 0x22 and raw[-1] == 0x22:
            raw = raw[1:-1]
        return raw.decode("utf-8")


def _child(node: int, index: int, kind: int) -> int:
    child: int | None = _NODE_GET(node, index)
    if not child or _NODE_TYPE(child) != kind:
        raise RegoCallError("unexpected node in the result")
    return child
