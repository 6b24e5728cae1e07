"""The embedded decision point (regopy, in process); ``policies.pdp_builder`` chooses it.

The modules are compiled once into a regopy bundle and re-compiled when a ``.rego``
file changes (a digest of each file, at most every ``check_interval_s``). A module
that fails to compile makes every decision raise ``Unavailable`` until it is fixed:
serving the previous policy would hide the author's error and keep a policy running
that is no longer on disk (fail closed).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from regopy import Bundle, Interpreter

from catalog.errors import Unavailable
from policies.bundle import (
    DEFAULT_REGO_DIR,
    QUERY,
    PolicySet,
    fingerprint,
    load_policy_set,
)
from policies.decision import Decision, DecisionInput, DecisionPoint, decision_from_output
from policies.decision_ids import new_decision_id
from policies.rego_call import query_binding


@dataclass(frozen=True)
class _Compiled:
    policy_set: PolicySet
    bundle: Bundle


def compile_policy_set(policy_set: PolicySet, *, with_tests: bool = False) -> Bundle:
    """Compile modules (+ the version as data) into a regopy bundle for ``QUERY``."""
    builder = Interpreter()
    modules = dict(policy_set.modules)
    if with_tests:
        modules.update(policy_set.tests)
    for name, source in sorted(modules.items()):
        builder.add_module(name, source)
    builder.add_data(policy_set.meta_data())
    bundle = builder.build(QUERY, [])
    if not bundle.ok():
        raise ValueError("regopy could not build the policy bundle")
    return bundle


def eval_bundle(bundle: Bundle, value: dict[str, Any]) -> Any:
    """Run the bundle's query on one input; the binding ``x``, or raise."""
    return query_binding(bundle, value, "x")


class EmbeddedPDP(DecisionPoint):
    """regopy evaluating ``policies/rego`` in this process (the default backend)."""

    def __init__(
        self,
        rego_dir: Path = DEFAULT_REGO_DIR,
        *,
        check_interval_s: float = 1.0,
        timeout_s: float = 2.0,
        id_factory: Callable[[], str] = new_decision_id,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._rego_dir = rego_dir
        self._check_interval_s = check_interval_s
        self._timeout_s = timeout_s
        self._id_factory = id_factory
        self._clock = clock
        self._lock = threading.Lock()
        self._compiled: _Compiled | None = None
        self._error: str | None = None
        self._fingerprint: tuple[tuple[str, str], ...] | None = None
        self._checked_at = float("-inf")

    def _current(self) -> _Compiled:
        """The compiled policy, rebuilt first if a file changed since the last look."""
        now = self._clock()
        if now - self._checked_at >= self._check_interval_s:
            with self._lock:
                self._refresh()
                self._checked_at = now
        compiled = self._compiled
        if compiled is None:
            raise Unavailable(f"policy engine unavailable: {self._error or 'no policy loaded'}")
        return compiled

    def _refresh(self) -> None:
        try:
            current = fingerprint(self._rego_dir)
        except OSError as exc:
            self._compiled, self._error = None, f"cannot read policies: {exc}"
            self._fingerprint = None
            return
        if current == self._fingerprint:
            return
        self._fingerprint = current
        try:
            policy_set = load_policy_set(self._rego_dir)
            self._compiled = _Compiled(policy_set, compile_policy_set(policy_set))
            self._error = None
        except Exception as exc:  # any compile error: fail closed until fixed
            self._compiled, self._error = None, f"policy failed to compile: {exc}"

    @property
    def policy_version(self) -> str:
        return self._current().policy_set.version

    def decide(self, decision_input: DecisionInput) -> Decision:
        compiled = self._current()
        started = time.perf_counter()
        try:
            with self._lock:
                output = eval_bundle(compiled.bundle, decision_input.to_input())
        except Exception as exc:
            raise Unavailable(f"policy engine unavailable: {exc}") from exc
        elapsed = time.perf_counter() - started
        if elapsed > self._timeout_s:
            raise Unavailable(
                f"policy engine unavailable: decision took {elapsed:.3f}s "
                f"(limit {self._timeout_s}s)"
            )
        return decision_from_output(
            output,
            decision_input=decision_input,
            decision_id=self._id_factory(),
            policy_version=compiled.policy_set.version,
        )
