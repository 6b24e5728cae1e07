"""The rate window and the row counters in Redis, shared by every replica, through the
``limits`` library's storage (the same operations its moving- and fixed-window
strategies make), plus two Lua scripts for the atomic row reservation.

Every command is bounded (``REDIS_TIMEOUT_S``) and a Redis error becomes ``Unavailable``
(503) naming the setting and the address: an outage is a refusal, never a request let
through uncounted.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from limits import storage
from limits.errors import ConfigurationError
from limits.storage import RedisStorage

from catalog.errors import Unavailable

REDIS_TIMEOUT_S = 2.0  # connect and each command: an outage is a 503 within this bound

# Grant min(wanted, limit - used) and add it, in one step on the server: a concurrent
# reservation sees the counter after this one, never the same "remaining".
_RESERVE = """
local used = tonumber(redis.call("get", KEYS[1]) or "0")
local grant = math.min(tonumber(ARGV[2]), tonumber(ARGV[1]) - used)
if grant <= 0 then return 0 end
local now = redis.call("incrby", KEYS[1], grant)
if now == grant then redis.call("expire", KEYS[1], ARGV[3]) end
return grant
"""
# Give back at most what is on the counter, and only to a live window (an expired key
# is a new day: nothing of it was reserved).
_RELEASE = """
local used = tonumber(redis.call("get", KEYS[1]) or "0")
local back = math.min(used, tonumber(ARGV[1]))
if back > 0 then redis.call("decrby", KEYS[1], back) end
return back
"""


class RedisCounters:
    """``limits``' Redis storage, key by key (the interface of ``MemoryCounters``)."""

    def __init__(self, uri: str, *, key_prefix: str | None, where: str) -> None:
        options: dict[str, str | float] = {"key_prefix": key_prefix} if key_prefix else {}
        options.update(socket_timeout=REDIS_TIMEOUT_S, socket_connect_timeout=REDIS_TIMEOUT_S)
        # ``where`` names the store without its password; limits' own refusal and the
        # URI itself would print it (red team 46)
        try:
            found = storage.storage_from_string(uri, **options)
        except (ConfigurationError, ValueError):  # redis-py's quotes the URL's parts
            raise ValueError(f"{where}: not a storage this gateway can read") from None
        if not isinstance(found, RedisStorage):
            raise ValueError(f"no atomic row reservation for storage {where}")
        self._store = found
        self._where = where
        connection = found.get_connection()
        self._reserve = connection.register_script(_RESERVE.encode())
        self._release = connection.register_script(_RELEASE.encode())

    def check(self) -> None:
        try:
            self._store.get_connection().ping()
        except self._store.base_exceptions as exc:
            raise Unavailable(f"{self._where} does not answer ({type(exc).__name__})") from None

    def hit(self, key: str, amount: int, expiry: int) -> bool:
        with self._reachable():
            return bool(self._store.acquire_entry(key, amount, expiry))

    def count(self, key: str) -> int:
        with self._reachable():
            return int(self._store.get(key))

    def reserve(self, key: str, limit: int, wanted: int, expiry: int) -> int:
        with self._reachable():
            return int(self._reserve([self._store.prefixed_key(key)], [limit, wanted, expiry]))

    def release(self, key: str, amount: int) -> None:
        with self._reachable():
            self._release([self._store.prefixed_key(key)], [amount])

    def clear(self) -> None:
        """The keys of this prefix (tests)."""
        self._store.reset()

    @contextmanager
    def _reachable(self) -> Iterator[None]:
        """Redis errors become a 503 naming what is down."""
        try:
            yield
        except self._store.base_exceptions as exc:
            raise Unavailable(
                f"{self._where} does not answer ({type(exc).__name__}): rate limits and "
                "quotas cannot be counted, so the request is refused"
            ) from None
