"""Guarded HTTP GETs for the HTTP JSON adapter: pinned addresses, checked redirects,
bounded bodies, secrets only sent to the source's own origin.

Every request — first page, each redirect hop, each next-page link — is checked by
``adapters.netguard.check_url`` and sent to the checked address (the URL's host is
replaced by the address; the ``Host`` header and TLS SNI carry the name, so
certificates are still verified against the name). Redirects are never followed by
httpx; we follow at most ``MAX_REDIRECTS`` hops ourselves, re-checking each, and refuse
a hop that leaves the source's base URL (origin and base path: the system its
registration was judged by). Proxies from the environment
are ignored (``trust_env=False``): a proxy would connect to whatever the name
resolves to at its end, which would undo the pinning. Failures are reported by class,
never with the client's text: no HTTP answer at all (refused, silent, another protocol)
reads the same, so error messages cannot be used to scan ports.
"""

from __future__ import annotations

import base64
import ipaddress
import urllib.parse
from collections.abc import Collection
from typing import Any

import httpx
import orjson

from adapters.http_config import inside
from adapters.netguard import Resolver, Target, check_url, system_resolver
from catalog.errors import SourceFailed, SourceTimeout
from catalog.http_deadline import ExchangeDeadline
from catalog.tls_default import default_tls

MAX_REDIRECTS = 5
MAX_BODY_BYTES = 64 * 1024 * 1024
NO_HTTP_ANSWER = "could not connect: connection refused, timed out, or not an HTTP server"


def auth_header(auth: str, secret: str | None) -> dict[str, str]:
    """The Authorization header for ``auth`` (``none``, ``bearer``, ``basic``; ``query``
    sends no header: the secret goes as a query parameter, ``with_param``)."""
    if auth in ("none", "query") or not secret:
        return {}
    if auth == "bearer":
        return {"Authorization": f"Bearer {secret}"}
    token = base64.b64encode(secret.encode()).decode()
    return {"Authorization": f"Basic {token}"}


def with_param(url: str, name: str, value: str) -> str:
    """``url`` with the query parameter ``name`` set to ``value`` alone: any of that
    name already there (a next-page link's) dropped, the rest of the query as sent."""
    parts = urllib.parse.urlsplit(url)
    kept = [p for p in parts.query.split("&")
            if p and urllib.parse.unquote_plus(p.split("=", 1)[0]) != name]  # fmt: skip
    kept.append(f"{urllib.parse.quote(name, safe='')}={urllib.parse.quote(value, safe='')}")
    return urllib.parse.urlunsplit(parts._replace(query="&".join(kept)))


def _pinned_url(target: Target) -> str:
    parts = urllib.parse.urlsplit(target.url)
    address = target.address
    if isinstance(ipaddress.ip_address(address), ipaddress.IPv6Address):
        address = f"[{address}]"
    return urllib.parse.urlunsplit(
        (parts.scheme, f"{address}:{target.port}", parts.path or "/", parts.query, "")
    )


def _host_header(target: Target) -> str:
    default = 443 if target.scheme == "https" else 80
    host = f"[{target.host}]" if ":" in target.host else target.host
    return host if target.port == default else f"{host}:{target.port}"


class GuardedClient:
    """GETs JSON from one source, within its origin's credentials and the SSRF guard."""

    def __init__(
        self,
        *,
        origin: tuple[str, str, int],
        base_url: str,
        headers: dict[str, str],
        allow_hosts: Collection[str],
        timeout_s: float,
        resolver: Resolver = system_resolver,
        secrets: Collection[str | None] = (),
        query_auth: tuple[str, str] | None = None,
    ) -> None:
        """``query_auth``: (parameter, secret) added to every request to ``origin``
        (``"auth": "query"``), at the last moment, so no URL the adapter keeps, compares
        or reports carries it."""
        self._query_auth = query_auth
        self._origin = origin
        self._base_url = base_url
        self._headers = headers
        self._allow_hosts = allow_hosts
        self._resolver = resolver
        self._secrets = list(secrets)
        self._timeout_s = timeout_s
        self._client = httpx.Client(
            timeout=httpx.Timeout(timeout_s),
            follow_redirects=False,
            trust_env=False,
            verify=default_tls(trust_env=False),  # made once, not per adapter
            # each exchange on a connection of its own, so that its deadline can cut
            # it (``catalog.http_deadline``)
            limits=httpx.Limits(max_keepalive_connections=0),
        )

    def get_json(self, url: str, params: dict[str, str] | None = None) -> Any:
        """GET ``url`` (with ``params`` added to its query) and decode the JSON body."""
        if params:
            parts = urllib.parse.urlsplit(url)
            query = urllib.parse.parse_qsl(parts.query, keep_blank_values=True)
            query += list(params.items())
            url = urllib.parse.urlunsplit(parts._replace(query=urllib.parse.urlencode(query)))
        for hop in range(MAX_REDIRECTS + 1):
            target = check_url(url, self._allow_hosts, self._resolver)
            if hop and (target.origin != self._origin or not inside(url, self._base_url)):
                # red team 10: a redirect to another department's API on the same
                # origin (or another one, without the credentials) read its records
                # under this source's entry; the base URL is what registration judged
                raise SourceFailed("the source redirected out of its base URL")
            status, location, body = self._send(target)
            if status in {301, 302, 303, 307, 308}:
                if not location:
                    raise SourceFailed(f"the source answered {status} without a Location")
                url = urllib.parse.urljoin(url, location)
                continue
            if status >= 400:
                raise SourceFailed(f"the source answered HTTP {status}")
            try:
                return orjson.loads(body)
            except orjson.JSONDecodeError:
                raise SourceFailed("the source did not answer with JSON") from None
        raise SourceFailed(f"the source redirected more than {MAX_REDIRECTS} times")

    def _send(self, target: Target) -> tuple[int, str | None, bytes]:
        """One exchange with the source, whole within the statement timeout (red team
        22: a page trickled a few bytes at a time was read for as long as the source
        chose, each read inside httpx's per-read timeout)."""
        with ExchangeDeadline(self._timeout_s) as deadline:
            try:
                return self._exchange(target, deadline)
            except SourceFailed:
                if deadline.expired:  # the cut socket read as a source that broke off
                    raise SourceTimeout(self._late) from None
                raise

    @property
    def _late(self) -> str:
        return f"the source did not answer within {self._timeout_s:g} s"

    def _exchange(
        self, target: Target, deadline: ExchangeDeadline
    ) -> tuple[int, str | None, bytes]:
        headers = {"Host": _host_header(target), "Accept": "application/json"}
        url = _pinned_url(target)
        if target.origin == self._origin:
            headers.update(self._headers)
            if self._query_auth is not None:
                url = with_param(url, *self._query_auth)
        extensions: dict[str, Any] = {"trace": deadline.trace}
        if target.scheme == "https":
            extensions["sni_hostname"] = target.host
        request = self._client.build_request("GET", url, headers=headers, extensions=extensions)
        try:
            response = self._client.send(request, stream=True)
        except (httpx.ReadTimeout, httpx.WriteTimeout):
            # connected, then silence: told apart from a refusal by its delay anyway
            raise SourceTimeout(self._late) from None
        except httpx.HTTPError:
            # no HTTP answer at all: refused, silent and non-HTTP ports read the same
            raise SourceFailed(NO_HTTP_ANSWER) from None
        try:
            location = response.headers.get("location")
            if response.status_code >= 300:
                return response.status_code, location, b""
            chunks: list[bytes] = []
            size = 0
            for chunk in response.iter_bytes():
                size += len(chunk)
                if size > MAX_BODY_BYTES:
                    raise SourceFailed(f"a page of the source exceeds {MAX_BODY_BYTES} bytes")
                chunks.append(chunk)
            if deadline.expired:  # cut at the deadline, and the body happened to parse
                raise SourceTimeout(self._late)
            return response.status_code, location, b"".join(chunks)
        except httpx.TimeoutException:
            raise SourceTimeout(self._late) from None
        except httpx.HTTPError:
            raise SourceFailed("the source broke off its answer") from None
        finally:
            response.close()

    def close(self) -> None:
        self._client.close()
