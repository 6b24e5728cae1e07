"""Per-user rate limits and daily row quotas.

In memory by default (``memory_counters``: the ``limits`` library's semantics, without
its memory storage, which starts a timer thread every few milliseconds under load);
with ``SLUICE_REDIS_URL`` the counters live in Redis, through ``limits``, so several
gateway replicas share them. Redis is then a component the gateway cannot work without:
``sluice serve`` refuses to start when it does not answer (``check``), and while it is
down every request that needs a counter fails closed with 503 (``Unavailable``), never
a 500 and never a request let through uncounted. Each Redis call is bounded
(``redis_counters.REDIS_TIMEOUT_S``), so a hung server is an outage too, not a hung request.

The row quota is a *reservation*, not a check: a query reserves the rows it may send
before any row leaves (``reserve_rows``: one atomic step that grants at most what is
left, so parallel requests share the rest instead of each receiving all of it), and
when it ends gives back what it did not send (``release_rows``). What stays on the
counter is what was sent. The counter is the ``limits`` fixed-window key of the
``rows`` item (in Redis and in memory alike), so ``remaining_rows`` reads it.
"""

from __future__ import annotations

from typing import Any, Protocol

import structlog
from limits import RateLimitItemPerDay, parse

from audit.witness_urls import redacted
from catalog.errors import RateLimited, Unavailable
from gateway.core.seams import UsageLimiter
from gateway.enforcement.memory_counters import MemoryCounters
from gateway.enforcement.redis_counters import RedisCounters

log = structlog.get_logger("sluice.limits")
_UNBOUNDED = 2**62
_DAY_S = 86_400


class _Counters(Protocol):
    """What a limiter counts with: ``MemoryCounters`` in one process, ``RedisCounters``
    shared by replicas; both by key, with the ``limits`` semantics."""

    def check(self) -> None: ...

    def hit(self, key: str, amount: int, expiry: int) -> bool: ...

    def count(self, key: str) -> int: ...

    def reserve(self, key: str, limit: int, wanted: int, expiry: int) -> int: ...

    def release(self, key: str, amount: int) -> None: ...

    def clear(self) -> None: ...


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
        self._counters: _Counters
        if storage_uri.startswith("memory"):  # one process: no library storage, no threads
            self.where = "in process"
            self._counters = MemoryCounters()
        elif storage_uri.startswith("redis"):
            # what an operator may be shown: the setting and the address, never a password
            self.where = f"SLUICE_REDIS_URL ({redacted(storage_uri)})"
            self._counters = RedisCounters(storage_uri, key_prefix=key_prefix,
                                           where=self.where)  # fmt: skip
        else:  # a fallback would be a quota that does not hold
            raise ValueError(f"no atomic row reservation for storage {redacted(storage_uri)!r}")

    @property
    def shared(self) -> bool:
        """Whether every process of the deployment counts here (Redis), not this one only."""
        return not isinstance(self._counters, MemoryCounters)

    @property
    def daily_rows(self) -> int:
        return int(self._rows_item.amount)

    def check(self) -> None:
        """Raise ``Unavailable`` naming the setting and the address when the counters'
        store does not answer (``sluice serve`` before it listens)."""
        self._counters.check()

    def hit_request(self, subject: str) -> None:
        """Count one request; raise 429 when the user is over their rate."""
        item = self._rate_item
        if not self._counters.hit(item.key_for("req", subject), int(item.amount),
                                  item.get_expiry()):  # fmt: skip
            raise RateLimited(f"too many requests; the limit is {item}")

    def hit_refusal(self, subject: str) -> bool:
        """Count one refusal to record for ``subject``; False once their refusals
        pass their rate (``gateway.web.refusals``: the next are counted, not recorded)."""
        item = self._rate_item
        return self._counters.hit(item.key_for("refused", subject), int(item.amount),
                                  item.get_expiry())  # fmt: skip

    def note_throttled(self, subject: str) -> bool:
        """True the first time in a rate window that ``subject``'s refusals passed it."""
        key, expiry = f"refused-throttled/{subject}", self._rate_item.get_expiry()
        return self._counters.reserve(key, 1, 1, expiry) == 1

    def count_unrecorded(self, subject: str) -> None:
        """One more refusal of ``subject`` left off the record."""
        self._counters.reserve(f"refused-unrecorded/{subject}", _UNBOUNDED, 1, _DAY_S)

    def take_unrecorded(self, subject: str) -> int:
        """How many of ``subject``'s refusals were left off the record since this was
        last taken (the count starts again)."""
        key = f"refused-unrecorded/{subject}"
        found = self._counters.count(key)
        if found:
            self._counters.release(key, found)
        return found

    def remaining_rows(self, subject: str) -> int:
        item = self._rows_item
        return max(0, int(item.amount) - self._counters.count(item.key_for("rows", subject)))

    def reserve_rows(self, subject: str, wanted: int) -> int:
        """Atomically take up to ``wanted`` rows of today's quota; returns the rows
        granted (0 when none are left). Whatever is not sent must be released."""
        if wanted <= 0:
            return 0
        item = self._rows_item
        return self._counters.reserve(item.key_for("rows", subject), int(item.amount), wanted,
                                      item.get_expiry())  # fmt: skip

    def release_rows(self, subject: str, rows: int) -> None:
        """Give back reserved rows that were not sent. Called as a request ends, after
        its answer and audit record: if the store is down then, the rows stay charged
        (fail closed: the user gets fewer rows today, never more) and it is logged."""
        if rows <= 0:
            return
        try:
            self._counters.release(self._rows_item.key_for("rows", subject), rows)
        except Unavailable as exc:
            log.warning("rows_not_released", rows=rows, reason=exc.message)

    def consume_rows(self, subject: str, rows: int) -> None:
        """Charge rows already sent (as much of them as today's quota still holds)."""
        self.reserve_rows(subject, rows)

    def count_failure(self, key: str, *, limit: int, window_s: int, lock_s: int) -> bool:
        """One more failure under ``key``, counted where every process of the deployment
        counts (Redis when configured): True when ``key`` is locked now — ``limit``
        failures within ``window_s`` lock it for ``lock_s``. The console's sign-in counts
        names no account holds here, as accounts' failures are counted in the shared
        catalog (red team 13: per-process counts answered otherwise)."""
        if self._counters.count(f"signin-lock/{key}") > 0:
            return True
        failures = f"signin-fail/{key}"
        self._counters.reserve(failures, limit, 1, window_s)
        if self._counters.count(failures) < limit:
            return False
        self._counters.reserve(f"signin-lock/{key}", 1, 1, lock_s)
        self._counters.release(failures, limit)
        return True

    def reset(self) -> None:
        """Forget every counter of this storage (tests; the Redis keys of its prefix)."""
        self._counters.clear()


RATE_TEXT = "SLUICE_RATE_LIMIT"
UNRECORDED_MESSAGE = "too many refused requests; wait for your rate limit to turn"


def refusal_recorded(limiter: UsageLimiter, subject: str, details: dict[str, Any]) -> bool:
    """Whether a refusal of ``subject`` goes on record, one user's refusals of every kind
    sharing one budget (``gateway.web.refusals``, the broker's ``query.denied``): each is
    recorded up to the user's rate (``SLUICE_RATE_LIMIT``); past it the first says so
    (``throttled``) and the rest are counted, not recorded, until the window turns; the
    next recorded refusal carries how many were left out (``unrecorded_refusals``). The
    trail no one may shrink grew by every refusal at the network's speed (red team 22:
    450 events a second from one analyst's 400s, 404s and 405s, which no rate limit
    counted; and every query past the rate limit was a ``query.denied`` all the same).
    While the limits store does not answer, every refusal is recorded (the record is the
    promise; the bound on its growth waits for the store)."""
    try:
        if not limiter.hit_refusal(subject):
            if not limiter.note_throttled(subject):
                limiter.count_unrecorded(subject)
                return False
            details["throttled"] = True  # recorded: it says what follows
            details["throttled_message"] = (
                f"more refusals than the rate limit ({RATE_TEXT}): "
                "the next are counted, not recorded, until it turns"
            )
        left_out = limiter.take_unrecorded(subject)
    except Unavailable as failure:
        log.warning("refusal_budget_unavailable", error=failure.code)
        return True
    if left_out:
        details["unrecorded_refusals"] = left_out
    return True


def build_limiter(*, rate: str, daily_rows: int, redis_url: str | None) -> Limiter:
    uri = redis_url.replace("redis://", "redis://", 1) if redis_url else "memory://"
    return Limiter(rate=rate, daily_rows=daily_rows, storage_uri=uri)
