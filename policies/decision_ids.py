"""``new_decision_id``: the default id of one decision, shared by every backend.

A module of its own because the embedded engine, the OPA-server client and the cache
all stamp ids (a cached decision gets a fresh one), and none of them should import
another backend to get it: that is what had tied ``pdp`` and ``cache``/``opa_server``
into an import circle. Tests pass their own ``id_factory`` instead.
"""

from __future__ import annotations

import uuid


def new_decision_id() -> str:
    """Random, so a decision id names one answer and never leaks an order or a count."""
    return uuid.uuid4().hex
