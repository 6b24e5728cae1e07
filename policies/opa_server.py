"""The OPA-server decision point: the same Rego, evaluated by an OPA server.

Asked through ``opa-python-client`` (``POST /v1/data/sluice/decision/decision``). The
server must have the bundle written by ``sluice policy bundle`` loaded; the bundle's
data carries its ``policy_version``, so the decision names the policy that actually
decided, even while a new bundle rolls out. Any transport error, HTTP error, timeout
or undefined decision raises ``Unavailable`` (fail closed, never an allow).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from catalog.errors import Unavailable
from policies.bundle import DOCUMENT, META_ROOT
from policies.decision import Decision, DecisionInput, DecisionPoint, decision_from_output
from policies.decision_ids import new_decision_id
from policies.schema import loads_unique

if TYPE_CHECKING:
    from opa_client import OpaClient  # aiohttp and requests: loaded by client_for only

PACKAGE, RULE = DOCUMENT.rsplit("/", 1)


def client_for(url: str, *, timeout_s: float, token: str | None = None) -> OpaClient:
    """An ``OpaClient`` for ``http(s)://host:port`` (no retries: fail fast, then closed).

    opa_client (with aiohttp and requests, a tenth of the gateway's imports) is loaded
    here, by a gateway configured with an OPA server, not by every one (issue 17)."""
    from opa_client import OpaClient

    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        # never the URL itself: it may carry a password (red team 46)
        raise ValueError("SLUICE_OPA_URL must be http(s)://host[:port]")
    port = parts.port or (443 if parts.scheme == "https" else 8181)
    return OpaClient(
        host=parts.hostname,
        port=port,
        ssl=parts.scheme == "https",
        token=token,
        retries=0,
        timeout=timeout_s,
    )


class OpaServerPDP(DecisionPoint):
    """Decisions from an OPA server; ``policy_version`` re-read at most every
    ``version_refresh_s`` (it is on the cache's path, so not one HTTP call per request)."""

    def __init__(
        self,
        url: str,
        *,
        timeout_s: float = 1.0,
        version_refresh_s: float = 1.0,
        token: str | None = None,
        id_factory: Callable[[], str] = new_decision_id,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.url = url
        self._client = client_for(url, timeout_s=timeout_s, token=token)
        self._refresh_s = version_refresh_s
        self._id_factory = id_factory
        self._clock = clock
        self._lock = threading.Lock()
        self._refreshing = threading.Lock()  # one read of the version at a time
        self._failed: tuple[float, Unavailable] | None = None  # the last read's failure
        self._version: str | None = None
        self._version_at = float("-inf")

    def close(self) -> None:
        self._client.close_connection()

    @property
    def policy_version(self) -> str:
        """The bundle's version, read again once ``version_refresh_s`` has passed: by one
        caller, the others that ask meanwhile waiting for its answer (every stream in
        flight asks at its re-check: one HTTP call each was a burst per second the size
        of the streams, red team 66)."""
        cached = self._cached()
        if cached is not None:
            return cached
        asked = self._clock()
        with self._refreshing:
            cached = self._cached()  # read by the caller this one waited for
            if cached is not None:
                return cached
            failed = self._failed
            if failed is not None and failed[0] >= asked:  # that read failed: so does this
                raise failed[1]  # (not one timeout more per waiting caller, in a row)
            return self._read_version()

    def _cached(self) -> str | None:
        with self._lock:
            if self._version is not None and self._clock() - self._version_at < self._refresh_s:
                return self._version
        return None

    def _read_version(self) -> str:
        now = self._clock()
        try:
            body = self._client.get_data(f"{META_ROOT}/policy_version")
            version = body["result"]
            if not isinstance(version, str) or not version:
                raise ValueError(f"bad policy_version {version!r}")
        except Exception as exc:
            error = Unavailable(
                f"policy engine unavailable: OPA server at {self.url} has no Sluice bundle "
                f"version ({exc!r})"
            )
            self._failed = (self._clock(), error)
            raise error from exc
        with self._lock:
            self._version, self._version_at = version, now
        return version

    def _query(self, decision_input: DecisionInput) -> Any:
        """``POST /v1/data/<document>`` through the client's session, the same request
        as ``OpaClient.query_rule``, but the body is parsed here with duplicate keys
        refused (``response.json()`` would keep the last of two ``"allow"``)."""
        url = f"{self._client.root_url}/data/{PACKAGE.replace('.', '/')}/{RULE}"
        response = self._client._session.post(
            url, json={"input": decision_input.to_input()}, timeout=self._client.timeout
        )
        response.raise_for_status()
        return loads_unique(response.content)

    def decide(self, decision_input: DecisionInput) -> Decision:
        try:
            body = self._query(decision_input)
        except Exception as exc:  # requests errors, timeouts, HTTP 4xx/5xx, bad JSON
            raise Unavailable(
                f"policy engine unavailable: OPA server at {self.url}: {exc!r}"
            ) from exc
        if not isinstance(body, dict) or "result" not in body:
            raise Unavailable(
                f"policy engine unavailable: the decision is undefined on {self.url} "
                "(is the Sluice bundle loaded?)"
            )
        return decision_from_output(
            body["result"], decision_input=decision_input, decision_id=self._id_factory()
        )
