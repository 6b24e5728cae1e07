"""``hash``: keyed tokens, ``tk_`` + the first 24 hex digits (96 bits) of
HMAC-SHA256(case key, value as UTF-8).

96 bits keep accidental collisions negligible (birthday bound ~2**48 distinct values)
while keeping tokens short in exports. Non-string values are hashed in their canonical
Arrow string form (``123``, ``1978-05-04``), so an integer key in one source and the same
key as text in another still join. Tokens must never change for the same key and value:
they are compared across sources and runs.

One person, one token, whatever a source's spelling: a resident ID number whose check
digit a source stores as ``x`` (``11010519491231002x``) is tokenised as ``...002X``, the
spelling of the other sources and of a number typed for "who looked up whom"
(``gateway.enforcement.query.subjects.canonical_id_number``). ``canonical_spelling`` and
``canonical_spellings`` are that rule, applied here, where every token is made (``hash``
masks, comparison keys, subject tokens, Spark's executors alike), so no caller can
forget it. Only a value of exactly 17 ASCII digits and ``x`` changes, whatever its field.
A field classed as an ID number is spelt wholly canonically (no white space, upper case)
before its values reach here (``id_spelling``, by ``mask_array`` and the subject tokens,
which know the field's category: stop 37).

Why it is shaped this way. The figures behind each choice are not written here, where
they would go stale with the next Python, pyarrow or OpenSSL: ``python -m
bench.masking_design`` measures each one as a ratio against its alternative (re-run it
when changing this module, and re-tune a threshold when its ratio moves).

- HMAC runs in OpenSSL (SHA-NI) through ``hashlib``; what costs is Python's per-object
  work around it, the state ``copy()`` and ``digest()`` calls. The key's inner/outer
  SHA-256 states are computed once (RFC 2104's HMAC without re-keying per value):
  ``hmac.digest`` re-keys OpenSSL 3's HMAC on every call, which is slower.
- Many values are hashed with ``map`` over the C methods (``copy``, ``update``,
  ``digest``): no bytecode runs per value. The digests are cut to 12 bytes, joined, and
  hex-encoded in one call; ``tk_`` is put in front by one Arrow kernel.
- Each distinct value is hashed once when repeats are common: Arrow's dictionary
  encoding finds the distinct values and ``take`` spreads their tokens back. On mostly
  distinct values the encoding is pure overhead, so for large arrays a random sample
  decides. Either way the tokens are the same.

The native kernel (``_hmac_tokens``, C over OpenSSL's SHA-256, built by ``pip install``
when a compiler and OpenSSL headers are there) does the same per value without Python
objects and with the GIL released, on two threads for large arrays; without it
everything works, more slowly, and gives the same tokens.
"""

from __future__ import annotations

import hashlib
import importlib
import threading
from array import array
from collections import deque
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from functools import lru_cache
from itertools import accumulate, repeat
from operator import itemgetter
from types import ModuleType

import pyarrow as pa
import pyarrow.compute as pc

_native: ModuleType | None
try:
    _native = importlib.import_module("gateway.enforcement.masking._hmac_tokens")
except ImportError:  # no compiler or OpenSSL headers at install time: the Python path
    _native = None

TOKEN_PREFIX = "tk_"  # noqa: S105 (a label, not a secret)
TOKEN_HEX_CHARS = 24
_BLOCK = 64  # SHA-256 block size
_IPAD = bytes(b ^ 0x36 for b in range(256))  # translation tables: key XOR pad in C
_OPAD = bytes(b ^ 0x5C for b in range(256))
_Sha256 = type(hashlib.sha256())
_copy, _update, _digest = _Sha256.copy, _Sha256.update, _Sha256.digest
_truncate = itemgetter(slice(TOKEN_HEX_CHARS // 2))
# arrays at least this long decide from a sample whether dictionary encoding pays
SAMPLE_FROM = 8192
SAMPLE_SIZE = 4096
# dictionary encoding + take cost a fraction of hashing a value (bench.masking_design
# measures it): it pays below this share of distinct values
MAX_DISTINCT_SHARE = 0.75
# the native kernel splits arrays at least this long over two threads
NATIVE_SPLIT_FROM = 65_536
_TOKEN_CHARS = len(TOKEN_PREFIX) + TOKEN_HEX_CHARS
# an ID number with its check digit in lower case: tokenised in upper case
_LOWER_CHECK_DIGIT = r"^([0-9]{17})x$"
_split_pool: ThreadPoolExecutor | None = None
_split_lock = threading.Lock()


def native_available() -> bool:
    return _native is not None


def _pool() -> ThreadPoolExecutor:
    global _split_pool
    with _split_lock:
        if _split_pool is None:
            _split_pool = ThreadPoolExecutor(2, thread_name_prefix="sluice-hmac")
        return _split_pool


class HmacTokens:
    """HMAC-SHA256 tokens under one key, with the keyed inner and outer states computed
    once. Holds the key only as those two states; never put it in a log or repr."""

    __slots__ = ("_block", "_inner", "_outer")

    def __init__(self, key: bytes) -> None:
        if len(key) < 16:
            raise ValueError("masking key too short")
        if len(key) > _BLOCK:
            key = hashlib.sha256(key).digest()
        key = key.ljust(_BLOCK, b"\0")
        self._block = key  # for the native kernel, which derives the same two states
        self._inner = hashlib.sha256(key.translate(_IPAD))
        self._outer = hashlib.sha256(key.translate(_OPAD))

    def __repr__(self) -> str:
        return "HmacTokens(<key hidden>)"

    def token(self, value: bytes) -> str:
        """The token of one UTF-8 value."""
        inner = self._inner.copy()
        inner.update(value)
        outer = self._outer.copy()
        outer.update(inner.digest())
        return TOKEN_PREFIX + outer.digest()[: TOKEN_HEX_CHARS // 2].hex()

    def digests(self, values: Sequence[bytes]) -> list[bytes]:
        """Full HMAC-SHA256 digests of many values; C calls only, no bytecode per value."""
        count = len(values)
        inner = list(map(_copy, repeat(self._inner, count)))
        deque(map(_update, inner, values), maxlen=0)
        outer = list(map(_copy, repeat(self._outer, count)))
        deque(map(_update, outer, map(_digest, inner)), maxlen=0)
        return list(map(_digest, outer))

    def token_array(self, values: Sequence[bytes]) -> pa.Array:
        """Tokens of many non-null values as one ``string`` array, in order."""
        count = len(values)
        hexed = b"".join(map(_truncate, self.digests(values))).hex().encode("ascii")
        width = pa.binary(TOKEN_HEX_CHARS)
        fixed = pa.FixedSizeBinaryArray.from_buffers(width, count, [None, pa.py_buffer(hexed)])
        prefixed = pc.binary_replace_slice(fixed.cast(pa.binary()), 0, 0, TOKEN_PREFIX)
        return prefixed.view(pa.string())

    def array_tokens(self, values: pa.Array, *, native: bool = True) -> pa.Array:
        """Tokens of a null-free ``binary``/``large_binary`` array as ``string``, in
        order: by the native kernel when built (``native=False`` forces Python)."""
        if values.null_count:  # a null's slot may span any bytes: never a token of them
            raise ValueError("array_tokens takes no nulls (hash_array drops them)")
        if _native is None or not native:
            return self.token_array(values.to_pylist())
        count = len(values)
        if not count:  # an empty array's offsets buffer may be absent
            return pa.array([], pa.string())
        _validity, offsets, data = values.buffers()
        wide = pa.types.is_large_binary(values.type)
        parts = [(0, count)]
        if count >= NATIVE_SPLIT_FROM:
            half = count // 2
            parts = [(0, half), (half, count - half)]
        kernel = _native.tokens
        block, start, raw = self._block, values.offset, data or pa.py_buffer(b"")
        if len(parts) == 1:  # here: a hand-off to the pool costs more than the kernel
            chunks = [kernel(block, offsets, raw, start, count, wide)]
        else:
            chunks = list(
                _pool().map(lambda p: kernel(block, offsets, raw, start + p[0], p[1], wide), parts)
            )
        joined = pa.py_buffer(b"".join(chunks))
        fixed = pa.FixedSizeBinaryArray.from_buffers(pa.binary(_TOKEN_CHARS), count, [None, joined])
        return fixed.cast(pa.binary()).view(pa.string())

    def tokens(self, values: Iterable[str | None]) -> list[str | None]:
        """Tokens of a few Python values (nulls stay None); each distinct value once,
        spelled canonically first (``canonical_spelling``)."""
        listed = [None if v is None else canonical_spelling(v) for v in values]
        distinct = [v for v in dict.fromkeys(listed) if v is not None]
        by_value = dict(zip(distinct, self._few(_encoded(distinct)), strict=True))
        return [None if v is None else by_value[v] for v in listed]

    def _few(self, values: list[bytes]) -> list[str]:
        """Tokens of a few values: one native kernel call on their bytes back to back
        when it is built (no Arrow array: made through Arrow calls, it cost more than
        the HMACs in Python — 63 → 122 us in the server), else ``token`` each."""
        if _native is None or not values:
            return list(map(self.token, values))
        offsets = array("q", [0])
        offsets.extend(accumulate(map(len, values)))
        text = _native.tokens(self._block, offsets, b"".join(values), 0, len(values), True)
        joined = text.decode("ascii")
        return [joined[i : i + _TOKEN_CHARS] for i in range(0, len(joined), _TOKEN_CHARS)]


def canonical_spelling(value: str) -> str:
    """``value`` as it is tokenised: an ID number's check digit ``x`` as ``X`` (one person
    has one token whichever way a source stores the number); any other value as is."""
    if len(value) == 18 and value[17] == "x" and value[:17].isascii() and value[:17].isdigit():
        return value[:17] + "X"
    return value


def canonical_spellings(values: pa.Array) -> pa.Array:
    """``canonical_spelling`` of every value of a string array (nulls stay null); the
    array itself when no value ends in ``x`` (one cheap kernel: the common case)."""
    if not pc.any(pc.ends_with(values, "x")).as_py():
        return values
    return pc.replace_substring_regex(values, _LOWER_CHECK_DIGIT, r"\1X")


def _encoded(values: Iterable[str]) -> list[bytes]:
    return [v.encode("utf-8") for v in values]


@lru_cache(maxsize=64)
def hmac_tokens(key: bytes) -> HmacTokens:
    """The keyed states of ``key``, kept for the few keys in use (one per case), so a
    small query does not re-derive them (two SHA-256 blocks and their objects; the
    saving is in ``bench.masking_design``)."""
    return HmacTokens(key)


def hash_token(value: str, key: bytes) -> str:
    """The token of one value (e.g. to compare a filter value with a masked column)."""
    return hmac_tokens(key).token(canonical_spelling(value).encode("utf-8"))


@lru_cache(maxsize=1)
def _sample_points() -> pa.Array:
    """Fixed pseudo-random points in [0, 1): sampled rows need not be adjacent (a table
    of repeated blocks looks distinct through any contiguous or strided window)."""
    return pc.random(SAMPLE_SIZE, initializer=20_241_126)


def _dictionary_pays(values: pa.Array) -> bool:
    """Whether repeats are common enough for dictionary encoding to pay.

    In a sample of ``s`` of ``n`` rows where each value occurs ``m`` times, about
    ``C(s, 2) * (m - 1) / (n - 1)`` pairs repeat; encoding pays when ``m`` exceeds
    ``1 / MAX_DISTINCT_SHARE``. Only speed depends on the answer, never the tokens.
    """
    count = len(values)
    if count < SAMPLE_FROM:
        return True
    points = pc.floor(pc.multiply(_sample_points(), float(count))).cast(pa.int64())
    sample = values.take(pc.unique(points))  # rows drawn twice would count as repeats
    repeats = len(sample) - int(pc.count_distinct(sample, mode="all").as_py())
    pairs = len(sample) * (len(sample) - 1) / 2
    multiplicity = 1 + repeats * (count - 1) / pairs
    return multiplicity > 1 / MAX_DISTINCT_SHARE


def hash_array(values: pa.Array, key: bytes) -> pa.Array:
    """Tokens for a string array (``string`` out for any string type); nulls stay null.
    Values are spelled canonically first (``canonical_spellings``)."""
    hmac = hmac_tokens(key)
    values = canonical_spellings(values)
    as_bytes = values.view(pa.binary() if pa.types.is_string(values.type) else pa.large_binary())
    if not _dictionary_pays(as_bytes):
        valid = pc.drop_null(as_bytes) if as_bytes.null_count else as_bytes
        tokens = hmac.array_tokens(valid)
        if not as_bytes.null_count:
            return tokens
        return pc.replace_with_mask(pa.nulls(len(values), pa.string()), pc.is_valid(values), tokens)
    encoded = as_bytes.dictionary_encode()  # a null value gets a null index
    return pc.take(hmac.array_tokens(encoded.dictionary), encoded.indices)
