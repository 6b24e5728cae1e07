"""Parsing and checking an HTTP source's settings (see ``adapters.http_json`` for the
shape). Parsing is strict: an unknown paging style, a filter declared on an unknown
operator, or an endpoint path that would leave the base URL's origin is a
``BadRequest`` at registration, not a surprise at query time."""

from __future__ import annotations

import re
import urllib.parse
from dataclasses import dataclass
from typing import Any

from adapters.base import FILTER_OPS, Column
from adapters.netguard import parse_url
from adapters.pathguard import check_text
from catalog.errors import BadRequest, SourceFailed
from catalog.vocabulary import FIELD_TYPES

PAGING_STYLES = ("none", "page", "offset", "next")
AUTH_MODES = ("none", "bearer", "basic", "query")
SECRET_PARAMS = frozenset({"key", "sig", "pwd", "pass", "code_verifier"})
"""Names that carry a credential whole (compared after ``secret_spelling``)."""
SECRET_PARTS = ("secret", "password", "passwd", "token", "apikey", "api_key", "access_key",
                "private_key", "signature", "credential", "session_id", "sessionid")  # fmt: skip
"""Parts that make any name a credential's (``client_secret``, ``auth_token``,
``x_api_key``, ``db_passwd``…): red team 13 found a fixed list of whole names passing
``client_secret`` and ``auth_token`` in a URL, stored in clear."""


def secret_spelling(name: str) -> str:
    return name.strip().lower().replace("-", "_")


def looks_secret(name: str) -> bool:
    """Whether a query parameter name names a credential: refused in a base URL or an
    object path (``refuse_secret_params``), which are stored and shown in clear; such a
    value is the source's ``secret``, sent by ``"auth": "query"``."""
    spelled = secret_spelling(name)
    return spelled in SECRET_PARAMS or any(part in spelled for part in SECRET_PARTS)


_PARAM_NAME = re.compile(r"[A-Za-z0-9_.~-]{1,64}")
PUSHABLE_OPS = tuple(op for op in FILTER_OPS if op not in {"between", "is_null"})


@dataclass(frozen=True)
class Paging:
    style: str = "none"
    page_param: str = "page"
    size_param: str = "page_size"
    first_page: int = 1
    offset_param: str = "offset"
    limit_param: str = "limit"
    next_key: str = "next"


def _dig(body: Any, dotted: str) -> Any:
    for key in [k for k in dotted.split(".") if k]:
        if not isinstance(body, dict):
            return None
        body = body.get(key)
    return body


@dataclass(frozen=True)
class EndpointSpec:
    name: str
    path: str
    records: str = ""
    paging: Paging = Paging()
    filters: tuple[tuple[str, str, str], ...] = ()
    columns: tuple[Column, ...] = ()

    def records_of(self, body: Any) -> list[dict[str, Any]]:
        records = _dig(body, self.records)
        if not isinstance(records, list) or not all(isinstance(r, dict) for r in records):
            raise SourceFailed(f"endpoint {self.name!r} did not return a list of JSON objects")
        return records

    def next_link(self, body: Any) -> str | None:
        link = _dig(body, self.paging.next_key)
        return link if isinstance(link, str) and link else None

    def filter_param(self, field: str, op: str) -> str | None:
        for f_field, f_op, param in self.filters:
            if f_field == field and f_op == op:
                return param
        return None


@dataclass(frozen=True)
class HttpSettings:
    base_url: str
    auth: str
    page_size: int
    max_pages: int
    objects: tuple[EndpointSpec, ...]
    auth_param: str | None = None  # ``"auth": "query"``: the parameter the secret fills

    def url_for(self, spec: EndpointSpec) -> str:
        return self.base_url.rstrip("/") + "/" + spec.path.lstrip("/")

    def next_link(self, current: str, link: str, origin: tuple[str, str, int]) -> str:
        """Resolve a next-page link; it must stay inside the source (``inside``)."""
        url = urllib.parse.urljoin(current, link)
        try:
            link_origin = parse_url(url)
        except BadRequest:
            raise SourceFailed("the source's next-page link is not a valid http(s) URL") from None
        if link_origin != origin:
            raise SourceFailed("the source's next-page link leaves the source's origin")
        if not inside(url, self.base_url):
            raise SourceFailed("the source's next-page link leaves the source's base path")
        return url


def path_segments(path: str) -> list[str]:
    """The segments of the path an HTTP request to ``path`` reaches: escapes read
    (``%2e`` is a dot to many servers, ``%5c`` a slash to some), dot segments removed
    as clients and servers remove them (RFC 3986, 5.2.4), empty ones dropped, case
    folded — more alike than a server may read them, never less. The ownership of a source
    (``gateway.enforcement.sources.targets``) and every request it sends (``inside``)
    judge a path by these (red team 10: ``/finance/../civil`` was not inside ``/civil``
    as spelled, yet every request went there). A segment's parameters (``;…``) are cut
    off, as servlet containers cut them before routing: ``/civil;v=1`` is ``/civil``
    and ``/finance/..;/civil`` is ``/civil`` to Tomcat (red team 11)."""
    kept: list[str] = []
    for raw in urllib.parse.unquote(path).replace("\\", "/").split("/"):
        part = raw.split(";", 1)[0]
        if part == "..":
            if kept:
                kept.pop()
        elif part not in ("", "."):
            kept.append(part.casefold())
    return kept


def inside(url: str, base_url: str) -> bool:
    """Whether ``url``'s path lies inside ``base_url``'s (the origin is checked apart).
    A source is judged by its base URL when it is registered; a redirect or a next-page
    link out of its base path reached a system nobody judged — another department's
    API on the same origin (red team 10)."""
    base = path_segments(urllib.parse.urlsplit(base_url).path)
    return path_segments(urllib.parse.urlsplit(url).path)[: len(base)] == base


def _str(value: Any, what: str, default: str | None = None) -> str:
    if value is None and default is not None:
        return default
    if not isinstance(value, str) or not value:
        raise BadRequest(f"{what} must be a non-empty string")
    return value


def _int(value: Any, what: str, default: int, low: int, high: int) -> int:
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise BadRequest(f"{what} must be an integer between {low} and {high}")
    return value


def _paging(raw: Any, where: str) -> Paging:
    if raw is None:
        return Paging()
    if isinstance(raw, str):
        raw = {"style": raw}
    if not isinstance(raw, dict):
        raise BadRequest(f"{where}.paging must be an object")
    style = raw.get("style", "none")
    if style not in PAGING_STYLES:
        raise BadRequest(f"{where}.paging.style must be one of {', '.join(PAGING_STYLES)}")
    defaults = Paging()
    return Paging(
        style=style,
        page_param=_str(raw.get("page_param"), f"{where}.paging.page_param", defaults.page_param),
        size_param=_str(raw.get("size_param"), f"{where}.paging.size_param", defaults.size_param),
        first_page=_int(raw.get("first_page"), f"{where}.paging.first_page", 1, 0, 1),
        offset_param=_str(
            raw.get("offset_param"), f"{where}.paging.offset_param", defaults.offset_param
        ),
        limit_param=_str(
            raw.get("limit_param"), f"{where}.paging.limit_param", defaults.limit_param
        ),
        next_key=_str(raw.get("next_key"), f"{where}.paging.next_key", defaults.next_key),
    )


def _endpoint(raw: Any, index: int) -> EndpointSpec:
    where = f"settings.objects[{index}]"
    if not isinstance(raw, dict):
        raise BadRequest(f"{where} must be an object")
    name = _str(raw.get("name"), f"{where}.name")
    path = _str(raw.get("path"), f"{where}.path")
    check_text(path, what=f"{where}.path", relative=False)
    parts = urllib.parse.urlsplit(path)
    if parts.scheme or parts.netloc or path.startswith("//") or "@" in path:
        raise BadRequest(f"{where}.path must be a path on the base URL, not a URL")
    filters = []
    for flt in raw.get("filters") or []:
        if not isinstance(flt, dict) or flt.get("op", "=") not in PUSHABLE_OPS:
            raise BadRequest(
                f"{where}.filters: each needs field, param and an op among "
                f"{', '.join(PUSHABLE_OPS)}"
            )
        filters.append(
            (
                _str(flt.get("field"), f"{where}.filters.field"),
                flt.get("op", "="),
                _str(flt.get("param"), f"{where}.filters.param"),
            )
        )
    columns = []
    for col in raw.get("columns") or []:
        if not isinstance(col, dict) or col.get("type", "string") not in FIELD_TYPES:
            raise BadRequest(
                f"{where}.columns: each needs a name and a type among {', '.join(FIELD_TYPES)}"
            )
        columns.append(
            Column(_str(col.get("name"), f"{where}.columns.name"), col.get("type", "string"))
        )
    records = raw.get("records") or ""
    if not isinstance(records, str):
        raise BadRequest(f"{where}.records must be a dotted key")
    return EndpointSpec(
        name=name,
        path=path,
        records=records,
        paging=_paging(raw.get("paging"), where),
        filters=tuple(filters),
        columns=tuple(columns),
    )


def query_param_names(url: str) -> list[str]:
    """The names of ``url``'s query parameters as a server reads them: split on ``&``
    and ``;`` (some servers take either), escapes and ``+`` read."""
    query = urllib.parse.urlsplit(url).query
    names = (part.split("=", 1)[0] for part in re.split(r"[&;]", query) if part)
    return [urllib.parse.unquote_plus(name) for name in names]


def refuse_secret_params(settings: dict[str, Any]) -> None:
    """A credential in the base URL or an object path (``?api_key=…``) would be stored
    in clear, shown in the source's redacted URL and put on the trail: refused (400,
    naming the parameter, never its value) before anything is contacted or written.
    The key is the source's ``secret``, sent by ``"auth": "query"``."""
    places: list[tuple[str, Any]] = [("settings.base_url", settings.get("base_url"))]
    objects = settings.get("objects")
    for i, raw in enumerate(objects if isinstance(objects, list) else []):
        places.append(
            (f"settings.objects[{i}].path", raw.get("path") if isinstance(raw, dict) else None)
        )
    for where, url in places:
        if not isinstance(url, str):
            continue
        for name in query_param_names(url):
            if looks_secret(name):
                raise BadRequest(
                    f"{where} carries the query parameter {name!r}, which looks like a secret:"
                    ' pass it as `secret` with "auth": "query" and "auth_param"'
                )


def _auth_param(settings: dict[str, Any], auth: str) -> str | None:
    if auth != "query":
        return None
    name = settings.get("auth_param")
    if not isinstance(name, str) or not _PARAM_NAME.fullmatch(name):
        raise BadRequest(
            'settings.auth_param names the query parameter "auth": "query" fills with the'
            " secret: 1-64 letters, digits or -._~"
        )
    return name


def parse_settings(settings: dict[str, Any], *, has_secret: bool) -> HttpSettings:
    """Strictly parse ``settings``; ``BadRequest`` names the first problem. Without
    ``auth``, a secret means a bearer token."""
    base_url = _str(settings.get("base_url"), "settings.base_url")
    parse_url(base_url)
    auth = settings.get("auth") or ("bearer" if has_secret else "none")
    if auth not in AUTH_MODES:
        raise BadRequest(f"settings.auth must be one of {', '.join(AUTH_MODES)}")
    auth_param = _auth_param(settings, auth)
    raw_objects = settings.get("objects") or []
    if not isinstance(raw_objects, list):
        raise BadRequest("settings.objects must be a list")
    objects = tuple(_endpoint(raw, i) for i, raw in enumerate(raw_objects))
    if len({o.name for o in objects}) != len(objects):
        raise BadRequest("settings.objects has two endpoints with the same name")
    return HttpSettings(
        base_url=base_url,
        auth=auth,
        page_size=_int(settings.get("page_size"), "settings.page_size", 500, 1, 10_000),
        max_pages=_int(settings.get("max_pages"), "settings.max_pages", 10_000, 1, 1_000_000),
        objects=objects,
        auth_param=auth_param,
    )
