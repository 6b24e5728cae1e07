"""Per-user rate limits and daily row quotas, through the ``limits`` library.

In memory by default; with ``SLUICE_REDIS_URL`` the counters live in Redis so several
gateway replicas share them.
"""

from __future__ import annotations

from limits import RateLimitItemPerDay, parse, storage, strategies

from catalog.errors import RateLimited


class Limiter:
    def __init__(self, *, rate: str, daily_rows: int, storage_uri: str = "memory://") -> None:
        self._storage = storage.storage_from_string(storage_uri)
        self._rate_item = parse(rate)
        self._rows_item = RateLimitItemPerDay(daily_rows)
        self._requests = strategies.MovingWindowRateLimiter(self._storage)
        self._rows = strategies.FixedWindowRateLimiter(self._storage)

    def hit_request(self, subject: str) -> None:
        """Count one request; raise 429 when the user is over their rate."""
        if not self._requests.hit(self._rate_item, "req", subject):
            raise RateLimited(f"too many requests; the limit is {self._rate_item}")

    def remaining_rows(self, subject: str) -> int:
        return int(self._rows.get_window_stats(self._rows_item, "rows", subject).remaining)

    def consume_rows(self, subject: str, rows: int) -> None:
        """Charge rows actually sent; a result larger than the rest of the quota was
        already cut to fit, so this only records it."""
        if rows <= 0:
            return
        remaining = self.remaining_rows(subject)
        self._rows.hit(self._rows_item, "rows", subject, cost=min(rows, max(remaining, 1)))


def build_limiter(*, rate: str, daily_rows: int, redis_url: str | None) -> Limiter:
    uri = redis_url.replace("redis://", "redis://", 1) if redis_url else "memory://"
    return Limiter(rate=rate, daily_rows=daily_rows, storage_uri=uri)
