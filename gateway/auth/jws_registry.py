"""The JWS algorithms a token may be signed and verified with, for the issuer and the
validator alike (a module of its own: minting a token needs no validation stack)."""

from __future__ import annotations

import copy
from collections.abc import Collection
from typing import Any

from joserfc import jws


def signature_registry(algorithms: Collection[str]) -> jws.JWSRegistry:
    """A JWS registry knowing only ``algorithms``.

    joserfc flags ``EdDSA`` as superseded by RFC 9864's ``Ed25519`` with a
    ``SecurityWarning`` on every use; the algorithm is still sound for Ed25519 keys
    (the key's curve is checked), so the registry holds a copy without the warning.
    """
    chosen: dict[str, Any] = {}
    for name in algorithms:
        alg = copy.copy(jws.JWSRegistry.algorithms[name])
        alg.security_warning = None
        chosen[name] = alg

    class _Registry(jws.JWSRegistry):
        pass

    _Registry.algorithms = chosen
    _Registry.recommended = list(chosen)
    return _Registry(algorithms=list(chosen), strict_check_header=True)
