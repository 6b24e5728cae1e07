"""``build_pdp``: the gateway's decision point, chosen from the settings.

It sits above the backends (it imports each of them, none imports it), so choosing one
never needs a lazy import to dodge a circle.
"""

from __future__ import annotations

from pathlib import Path

from policies.bundle import DEFAULT_REGO_DIR
from policies.cache import CachedPDP
from policies.decision import DecisionPoint
from policies.opa_server import OpaServerPDP
from policies.pdp import EmbeddedPDP


def build_pdp(
    *,
    opa_url: str | None,
    rego_dir: Path | None = None,
    cache_size: int = 10_000,
) -> DecisionPoint:
    """An OPA server when ``opa_url`` is set (from ``SLUICE_OPA_URL``), else the embedded
    engine; a decision cache in front of either."""
    inner: DecisionPoint
    inner = OpaServerPDP(opa_url) if opa_url else EmbeddedPDP(rego_dir or DEFAULT_REGO_DIR)
    return CachedPDP(inner, maxsize=cache_size)
