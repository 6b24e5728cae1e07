"""Per-user rate limits and daily row quotas.

In memory by default (``memory_counters``: the ``limits`` library's semantics, without
its memory storage, which starts a timer thread every few milliseconds under load);
with ``SLUICE_REDIS_URL`` the counters live in Redis, through ``limits``, so several
gateway replicas share them. Redis is then a component the gateway cannot work without:
``sluice serve`` refuses to start when it does not answer (``check``), and while it is
down every request that needs a counter fails closed with 503 (``Unavailable``), never
a 500 and never a request let through uncounted. Each Redis call is bounded
(``REDIS_TIMEOUT_S``), so a hung server is an outage too, not a hung request.

The row quota is a *reservation*, not a check: a query reserves the rows it may send
before any row leaves (``reserve_rows``: one atomic step that grants at most what is
left, so parallel requests share the rest instead of each receiving all of it), and
when it ends gives back what it did not send (``release_rows``). What stays on the
counter is what was sent. The counter is the ``limits`` fixed-window key of the
``rows`` item (in Redis and in memory alike), so ``remaining_rows`` reads it.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Protocol

import structlog
from limits import RateLimitItemPerDay, parse, storage, strategies
from limits.storage import RedisStorage

from audit.witness_urls import redacted
from catalog.errors import RateLimited, Unavailable
from gateway.enforcement.memory_counters import MemoryCounters

log = structlog.get_logger("sluice.limits")
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


class _RowCounter(Protocol):
    def reserve(self, key: str, limit: int, wanted: int, expiry: int) -> int: ...

    def release(self, key: str, rows: int) -> None: ...


class _RedisRows:
    """Lua scripts on the storage's own connection: one round trip each, atomic."""

    def __init__(self, store: RedisStorage) -> None:
        self._store = store
        connection = store.get_connection()
        self._reserve = connection.register_script(_RESERVE.encode())
        self._release = connection.register_script(_RELEASE.encode())

    def reserve(self, key: str, limit: int, wanted: int, expiry: int) -> int:
        return int(self._reserve([self._store.prefixed_key(key)], [limit, wanted, expiry]))

    def release(self, key: str, rows: int) -> None:
        self._release([self._store.prefixed_key(key)], [rows])


class Limiter:
    def __init__(
        self,
        *,
        rate: str,
        daily_rows: int,
        storage_uri: str = "memory://",
        key_prefix: str | None = None,
    ) -> None:
        self._rate_item = parse(rate)
        self._rows_item = RateLimitItemPerDay(daily_rows)
        self._memory: MemoryCounters | None = None
        self._counter: _RowCounter
        if storage_uri.startswith("memory"):  # one process: no library storage, no threads
            self.where = "in process"
            self._memory = MemoryCounters()
            self._counter = self._memory
            return
        if not storage_uri.startswith("redis"):  # a fallback would be a quota that does not hold
            raise ValueError(f"no atomic row reservation for storage {storage_uri!r}")
        options: dict[str, str | float] = {"key_prefix": key_prefix} if key_prefix else {}
        options.update(socket_timeout=REDIS_TIMEOUT_S, socket_connect_timeout=REDIS_TIMEOUT_S)
        # what an operator may be shown: the setting and the address, never a password
        self.where = f"SLUICE_REDIS_URL ({redacted(storage_uri)})"
        found = storage.storage_from_string(storage_uri, **options)
        if not isinstance(found, RedisStorage):
            raise ValueError(f"no atomic row reservation for storage {storage_uri!r}")
        self._storage: RedisStorage = found
        self._requests = strategies.MovingWindowRateLimiter(self._storage)
        self._rows = strategies.FixedWindowRateLimiter(self._storage)
        self._counter = _RedisRows(self._storage)

    @property
    def daily_rows(self) -> int:
        return int(self._rows_item.amount)

    def check(self) -> None:
        """Raise ``Unavailable`` naming the setting and the address when the counters'
        store does not answer (``sluice serve`` before it listens)."""
        if self._memory is not None:
            return
        try:
            self._storage.get_connection().ping()
        except self._storage.base_exceptions as exc:
            raise Unavailable(f"{self.where} does not answer ({type(exc).__name__})") from None

    @contextmanager
    def _reachable(self) -> Iterator[None]:
        """Redis errors become a 503 naming what is down; the memory store's own
        errors are bugs and pass through."""
        if self._memory is not None:
            yield
            return
        try:
            yield
        except self._storage.base_exceptions as exc:
            raise Unavailable(
                f"{self.where} does not answer ({type(exc).__name__}): rate limits and "
                "quotas cannot be counted, so the request is refused"
            ) from None

    def hit_request(self, subject: str) -> None:
        """Count one request; raise 429 when the user is over their rate."""
        item = self._rate_item
        if self._memory is not None:
            allowed = self._memory.hit(item.key_for("req", subject), int(item.amount),
                                       item.get_expiry())  # fmt: skip
        else:
            with self._reachable():
                allowed = self._requests.hit(item, "req", subject)
        if not allowed:
            raise RateLimited(f"too many requests; the limit is {self._rate_item}")

    def remaining_rows(self, subject: str) -> int:
        item = self._rows_item
        if self._memory is not None:
            return max(0, int(item.amount) - self._memory.count(item.key_for("rows", subject)))
        with self._reachable():
            return int(self._rows.get_window_stats(item, "rows", subject).remaining)

    def reserve_rows(self, subject: str, wanted: int) -> int:
        """Atomically take up to ``wanted`` rows of today's quota; returns the rows
        granted (0 when none are left). Whatever is not sent must be released."""
        if wanted <= 0:
            return 0
        item = self._rows_item
        key = item.key_for("rows", subject)
        with self._reachable():
            return self._counter.reserve(key, int(item.amount), wanted, int(item.get_expiry()))

    def release_rows(self, subject: str, rows: int) -> None:
        """Give back reserved rows that were not sent. Called as a request ends, after
        its answer and audit record: if the store is down then, the rows stay charged
        (fail closed: the user gets fewer rows today, never more) and it is logged."""
        if rows <= 0:
            return
        try:
            with self._reachable():
                self._counter.release(self._rows_item.key_for("rows", subject), rows)
        except Unavailable as exc:
            log.warning("rows_not_released", rows=rows, reason=exc.message)

    def consume_rows(self, subject: str, rows: int) -> None:
        """Charge rows already sent (as much of them as today's quota still holds)."""
        self.reserve_rows(subject, rows)

    def reset(self) -> None:
        """Forget every counter of this storage (tests; the Redis keys of its prefix)."""
        if self._memory is not None:
            self._memory.clear()
        else:
            self._storage.reset()


def build_limiter(*, rate: str, daily_rows: int, redis_url: str | None) -> Limiter:
    uri = redis_url.replace("redis://", "redis://", 1) if redis_url else "memory://"
    return Limiter(rate=rate, daily_rows=daily_rows, storage_uri=uri)
