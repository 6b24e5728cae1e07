"""A decision cache in front of any decision point.

Keyed on everything the policy reads: user attributes, the catalog entry (id, schema
version and its classification, so a re-classified field misses), the request shape,
the usage bucket, and the policy version. The clock is *not* in the key: the policy
only uses ``input.now`` to test grant expiry, so the key carries each grant's validity
at ``now`` instead. That keeps a repeated decision a dictionary lookup (well under a
tenth of a millisecond) while an expired grant still misses.

A new ``policy_version`` (a changed Rego file, a new OPA bundle) empties the cache.
Every returned decision gets a fresh ``decision_id``, cached or not.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import orjson

from policies.decision import Decision, DecisionInput, DecisionPoint
from policies.decision_ids import new_decision_id


def grant_valid_at(grant: dict[str, Any], now: str | None) -> bool:
    """Same test as the policy: normalised RFC3339 strings compare in time order."""
    expires = grant.get("expires_at")
    return isinstance(expires, str) and bool(now) and expires > str(now)


def cache_key(decision_input: DecisionInput, policy_version: str) -> bytes:
    body = decision_input.to_input()
    now = body.pop("now", None)
    body["grants"] = [{**g, "expires_at": grant_valid_at(g, now)} for g in body["grants"]]
    body["policy_version"] = policy_version
    return orjson.dumps(body, option=orjson.OPT_SORT_KEYS)


class CachedPDP(DecisionPoint):
    """LRU of decisions; errors are never cached (the next call asks again)."""

    def __init__(
        self,
        inner: DecisionPoint,
        *,
        maxsize: int = 10_000,
        id_factory: Callable[[], str] = new_decision_id,
    ) -> None:
        self.inner = inner
        self._maxsize = maxsize
        self._id_factory = id_factory
        self._lock = threading.Lock()
        self._entries: OrderedDict[bytes, Decision] = OrderedDict()
        self._version: str | None = None
        self.hits = 0
        self.misses = 0

    @property
    def policy_version(self) -> str:
        return self.inner.policy_version

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()

    def decide(self, decision_input: DecisionInput) -> Decision:
        version = self.inner.policy_version
        key = cache_key(decision_input, version)
        with self._lock:
            if version != self._version:
                self._entries.clear()
                self._version = version
            cached = self._entries.get(key)
            if cached is not None:
                self._entries.move_to_end(key)
                self.hits += 1
                # copies: a caller editing its decision must not edit the cache
                return replace(
                    cached,
                    decision_id=self._id_factory(),
                    fields=dict(cached.fields),
                    row_filter=_copy_filter(cached.row_filter),
                )
            self.misses += 1
        decision = self.inner.decide(decision_input)
        if decision.policy_version == version:
            with self._lock:
                self._entries[key] = decision
                while len(self._entries) > self._maxsize:
                    self._entries.popitem(last=False)
        return decision


def _copy_filter(row_filter: dict[str, Any] | None) -> dict[str, Any] | None:
    if row_filter is None:
        return None
    return {k: list(v) if isinstance(v, list) else v for k, v in row_filter.items()}
