"""The HTTP JSON adapter: a department's REST endpoints returning JSON records.

Configuration (kind ``http``)::

    settings = {
      "base_url": "https://api.civil.example/v1",
      "auth": "bearer" | "basic" | "query" | "none",  # default: bearer if a secret is set
      "auth_param": "api_key",                  # "query": the parameter the secret fills
      "page_size": 500,
      "objects": [{
        "name": "households", "path": "/households",
        "records": "data.items",                 # dotted key of the record list; "" = the body
        "paging": {"style": "page", "page_param": "page", "size_param": "per_page",
                   "first_page": 1},             # or "offset" (offset_param, limit_param),
                                                 # "next" (next_key), "none"
        "filters": [{"field": "region", "op": "=", "param": "region"}],
        "columns": [{"name": "region", "type": "string"}]   # optional; else inferred
      }]
    }
    secret = "<bearer token>", "user:password" (basic) or the key (query)

A key some APIs take as a query parameter (``?api_key=…``) is the ``secret`` with
``"auth": "query"``: added to each request to the source's origin as it is sent, never
stored in the settings nor shown in the redacted URL. A secret-like parameter written
into the base URL or an object path is refused (``http_config.refuse_secret_params``).

Every URL goes through ``adapters.http_fetch`` (SSRF guard, pinned address, checked
redirects); object paths, redirects and next-page links must stay inside the base URL
(its origin and base path). Filters whose ``(field, op)`` the object declares are sent as
query parameters; every filter and the row filter are then applied again to the fetched records with
Arrow expressions, so an endpoint that ignores a parameter cannot widen the result.
Fetching stops once ``limit`` rows (bounded by ``limits.max_rows``) have been produced;
``order_by`` sorts in memory and refuses results above ``limits.max_rows``.
Aggregates (issue 16) are grouped in the gateway over the records read (``aggregate``).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

import pyarrow as pa

from adapters.aggregate import AggregatePlan, in_gateway
from adapters.arrow_filters import needed_columns, plan_expression
from adapters.arrow_types import (
    conform,
    logical_from_arrow,
    sample_table,
    schema_for,
    to_array,
    with_schema_batch,
)
from adapters.base import AdapterLimits, Column, ObjectInfo, QueryPlan, SourceAdapter, SourceConfig
from adapters.http_config import EndpointSpec, HttpSettings, parse_settings, refuse_secret_params
from adapters.http_fetch import GuardedClient, auth_header
from adapters.netguard import Resolver, check_url, system_resolver
from adapters.plan import CheckedPlan, check_plan
from adapters.redaction import scrub
from adapters.registry import AdapterRegistry
from catalog.errors import BadRequest, SourceFailed, TooLarge

INFER_RECORDS = 100


def _param_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, tuple):
        return ",".join(_param_text(v) for v in value)
    return str(value)


class HttpAdapter(SourceAdapter):
    """Reads paged JSON records from the endpoints a source declares."""

    kind = "http"

    def __init__(
        self,
        config: SourceConfig,
        limits: AdapterLimits,
        *,
        resolver: Resolver = system_resolver,
    ) -> None:
        self._limits = limits
        self._settings: HttpSettings = parse_settings(
            config.settings, has_secret=bool(config.secret)
        )
        self._resolver = resolver
        origin = check_url(self._settings.base_url, limits.http_allow_hosts, resolver).origin
        self._origin = origin
        self._client = GuardedClient(
            origin=origin,
            base_url=self._settings.base_url,
            headers=auth_header(self._settings.auth, config.secret),
            allow_hosts=limits.http_allow_hosts,
            timeout_s=limits.statement_timeout_s,
            resolver=resolver,
            secrets=[config.secret],
            query_auth=(
                (self._settings.auth_param, config.secret)
                if self._settings.auth_param is not None and config.secret
                else None
            ),
        )

    # -- paging -----------------------------------------------------------------------

    def _endpoint(self, name: str) -> EndpointSpec:
        for spec in self._settings.objects:
            if spec.name == name:
                return spec
        raise BadRequest(f"this source has no endpoint {name!r}")

    def _pages(
        self, spec: EndpointSpec, params: dict[str, str], page_size: int
    ) -> Iterator[list[dict[str, Any]]]:
        """Record lists, page after page, until the endpoint runs out."""
        url = self._settings.url_for(spec)
        paging = spec.paging
        seen: set[str] = set()
        for number in range(self._settings.max_pages):
            query = dict(params)
            if paging.style == "page":
                query[paging.page_param] = str(paging.first_page + number)
                query[paging.size_param] = str(page_size)
            elif paging.style == "offset":
                query[paging.offset_param] = str(number * page_size)
                query[paging.limit_param] = str(page_size)
            first_or_numbered = number == 0 or paging.style != "next"
            body = self._client.get_json(url, query if first_or_numbered else None)
            records = spec.records_of(body)
            yield records
            if paging.style == "none" or not records:
                return
            if paging.style == "next":
                link = spec.next_link(body)
                if not link:
                    return
                url = self._settings.next_link(url, link, self._origin)
                if url in seen:
                    raise SourceFailed("the source's next-page links loop")
                seen.add(url)
            elif len(records) < page_size:
                return
        raise SourceFailed(f"the source has more than {self._settings.max_pages} pages")

    def _pushdown(self, spec: EndpointSpec, checked: CheckedPlan) -> dict[str, str]:
        params: dict[str, str] = {}
        for flt in checked.filters:
            param = spec.filter_param(flt.column.name, flt.op)
            if param is not None:
                params[param] = _param_text(flt.value)
        return params

    # -- interface --------------------------------------------------------------------

    def test_connection(self) -> None:
        if self._settings.objects:
            next(self._pages(self._settings.objects[0], {}, 1), None)
        else:
            self._client.get_json(self._settings.base_url)

    def list_objects(self) -> list[ObjectInfo]:
        return [self.describe(spec.name) for spec in self._settings.objects]

    def describe(self, name: str) -> ObjectInfo:
        """Declared columns, or columns inferred from the first records."""
        spec = self._endpoint(name)
        if spec.columns:
            return ObjectInfo(name=name, columns=spec.columns, kind="endpoint")
        records = next(self._pages(spec, {}, INFER_RECORDS), [])[:INFER_RECORDS]
        keys: list[str] = []
        for record in records:
            keys.extend(k for k in record if k not in keys)
        columns = []
        for key in keys:
            try:
                inferred = pa.array([r.get(key) for r in records]).type
            except (pa.ArrowInvalid, pa.ArrowTypeError):
                inferred = pa.string()
            columns.append(Column(key, logical_from_arrow(inferred)))
        return ObjectInfo(name=name, columns=tuple(columns), kind="endpoint")

    def sample(self, object_name: str, *, rows: int) -> pa.Table:
        return sample_table(self, self.describe(object_name), rows=rows, limits=self._limits)

    def execute(self, plan: QueryPlan) -> Iterator[pa.RecordBatch]:
        checked = check_plan(plan, self._limits)
        spec = self._endpoint(plan.object_name)
        return with_schema_batch(self._stream(spec, checked), schema_for(plan.columns))

    def aggregate(self, plan: AggregatePlan) -> pa.Table:
        """Grouped in the gateway (Arrow) over the records read: a REST endpoint has no
        GROUP BY. Reading ``limits.max_rows`` records or more is refused, never cut."""
        return in_gateway(self, plan, self._limits.max_rows)

    def _stream(self, spec: EndpointSpec, checked: CheckedPlan) -> Iterator[pa.RecordBatch]:
        plan = checked.plan
        names = needed_columns(checked)
        read_schema = schema_for([checked.by_name[n] for n in names])
        out_schema = schema_for(plan.columns)
        expr = plan_expression(checked)
        page_size = min(self._settings.page_size, max(1, checked.limit + checked.offset))
        pages = self._pages(spec, self._pushdown(spec, checked), page_size)
        tables = (self._page_table(records, read_schema, expr) for records in pages)
        if plan.order_by:
            yield from self._sorted(tables, checked, out_schema)
            return
        to_skip, to_send = checked.offset, checked.limit
        for table in tables:
            if to_skip >= table.num_rows:
                to_skip -= table.num_rows
                continue
            table = table.slice(to_skip, to_send)
            to_skip = 0
            to_send -= table.num_rows
            if table.num_rows:
                yield from conform(table, out_schema).to_batches(max_chunksize=plan.batch_size)
            if to_send <= 0:
                return  # before fetching another page

    def _page_table(self, records: list[dict[str, Any]], schema: pa.Schema, expr: Any) -> pa.Table:
        try:
            arrays = [to_array([r.get(f.name) for r in records], f.type) for f in schema]
        except (pa.ArrowException, ValueError, TypeError):
            raise SourceFailed(
                "the source returned values that do not match the catalog's field types"
            ) from None
        table = pa.Table.from_arrays(arrays, schema=schema)
        return table.filter(expr) if expr is not None else table

    def _sorted(
        self, tables: Iterator[pa.Table], checked: CheckedPlan, out_schema: pa.Schema
    ) -> Iterator[pa.RecordBatch]:
        kept: list[pa.Table] = []
        rows = 0
        for table in tables:
            rows += table.num_rows
            if rows > self._limits.max_rows:
                raise TooLarge(
                    "ordering needs the whole filtered result in memory; it holds more than "
                    f"{self._limits.max_rows} rows — add filters or drop the order"
                )
            kept.append(table)
        if not kept:
            return
        keys = [
            (o.field, "descending" if o.descending else "ascending") for o in checked.plan.order_by
        ]
        table = pa.concat_tables(kept).sort_by(keys).slice(checked.offset, checked.limit)
        yield from conform(table, out_schema).to_batches(max_chunksize=checked.plan.batch_size)

    def close(self) -> None:
        self._client.close()


class HttpFactory:
    """Factory for ``http`` (see ``adapters.registry.AdapterFactory``)."""

    def validate(self, config: SourceConfig, limits: AdapterLimits) -> None:
        refuse_secret_params(config.settings)
        settings = parse_settings(config.settings, has_secret=bool(config.secret))
        if settings.auth != "none" and not config.secret:
            raise BadRequest(f"auth {settings.auth!r} needs a secret")
        if settings.auth == "basic" and config.secret and ":" not in config.secret:
            raise BadRequest("basic auth takes a secret of the form user:password")
        check_url(settings.base_url, limits.http_allow_hosts)

    def open(self, config: SourceConfig, limits: AdapterLimits) -> HttpAdapter:
        return HttpAdapter(config, limits)

    def redact(self, config: SourceConfig) -> str:
        base = scrub(str(config.settings.get("base_url", "?")), [config.secret])
        auth = config.settings.get("auth") or ("bearer" if config.secret else "none")
        if auth == "query":
            auth = f"query {config.settings.get('auth_param')}"
        return f"{base} (auth: {auth}{', ***' if config.secret else ''})"


def register(registry: AdapterRegistry) -> None:
    registry.register("http", HttpFactory())
