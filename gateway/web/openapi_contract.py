"""The OpenAPI document as a contract clients can rely on (issue 16): every operation
declares the error statuses it may answer, with the one error body (``Error``: code,
message, details — ``gateway.web.errors``), and the query (and a run's stored hits) its
content types per format and the ``Sluice-Truncated`` header.

Which errors an operation declares is derived from what it is, by the rules the
handlers follow, rather than listed by hand per route (a hand list drifts):

- every operation: 400 (a malformed request — validation errors are 400 here, never
  FastAPI's 422), 429 (rate limit) and 503 (the audit trail or the catalog database
  unavailable: the gateway fails closed);
- one that takes a token (its ``security``): 401, 403 and 404 (what it names — in its
  path, query or body — may not exist, or not for this caller); one with a path
  parameter: 404 too;
- one that writes (POST, PUT, PATCH, DELETE): 409 (a conflict with what exists), 413
  (a body over the limit) and 422 (understood but not acceptable);
- the query and comparisons, which read partner systems: 423 (a frozen entry), 502 and
  504 (the source failed or timed out).

Applied on top of ``install_bearer_scheme`` (which sets each operation's ``security``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import FastAPI

from gateway.enforcement.query.formats import FORMATS
from gateway.web.routes.streaming import TRUNCATED_HEADER

ERROR_REF = {"$ref": "#/components/schemas/Error"}
ERROR_SCHEMA = {
    "title": "Error",
    "type": "object",
    "required": ["code", "message"],
    "properties": {
        "code": {"type": "string", "description": "stable, machine-readable"},
        "message": {"type": "string"},
        "details": {"description": "what the code needs to be acted on (reasons, fields)"},
    },
}
DESCRIPTIONS = {
    400: "malformed request", 401: "no valid token", 403: "not allowed",
    404: "not found", 409: "conflicts with what exists", 413: "request body too large",
    422: "understood but not acceptable", 423: "the entry is frozen",
    429: "rate limit exceeded", 502: "the source failed", 503: "unavailable; retry later",
    504: "the source timed out",
}  # fmt: skip
WRITES = frozenset({"post", "put", "patch", "delete"})
QUERY_PATH = "/api/v1/datasets/{dataset_id}/query"
METRICS_PATH = "/metrics"
HITS_PATH = "/api/v1/comparison-runs/{run_id}/hits"
READS_SOURCES = (QUERY_PATH, "/api/v1/comparisons")
QUERY_RESULT = {
    "title": "QueryResult",
    "type": "object",
    "required": ["columns", "rows", "truncated", "row_count"],
    "properties": {
        "columns": {"type": "array", "items": {"type": "object"}},
        "decision_id": {"type": "string"},
        "policy_version": {"type": "string"},
        "rows": {"type": "array", "items": {"type": "object"}},
        "truncated": {"type": "boolean"},
        "row_count": {"type": "integer"},
    },
}

HITS_RESULT = {
    "title": "HitsResult",
    "type": "object",
    "required": ["rows", "truncated", "row_count"],
    "properties": {
        "rows": {"type": "array", "items": {"type": "object"}},
        "truncated": {"type": "boolean"},
        "row_count": {"type": "integer"},
    },
}


def _statuses(path: str, method: str, operation: dict[str, Any]) -> set[int]:
    found = {400, 429, 503}
    if operation.get("security"):
        found |= {401, 403, 404}
    if "{" in path:
        found.add(404)
    if method in WRITES:
        found |= {409, 413, 422}
    if path.startswith(READS_SOURCES):
        found |= {423, 502, 504}
    return found


def _declare_query_formats(operation: dict[str, Any], json_schema: dict[str, Any]) -> None:
    ok = operation.setdefault("responses", {}).setdefault("200", {})
    content: dict[str, Any] = {}
    for fmt, media in FORMATS.items():
        media_type = media.split(";")[0]
        if media_type in content:
            continue
        schema = json_schema if fmt == "json" else {"type": "string", "format": "binary"}
        content[media_type] = {"schema": schema}
    ok["content"] = content
    ok["headers"] = {
        TRUNCATED_HEADER: {
            "description": "whether the result was cut at its row cap: true, false, or "
            "unknown while a long result was still being read",
            "schema": {"type": "string", "enum": ["true", "false", "unknown"]},
        }
    }


def _declare(document: dict[str, Any]) -> None:
    components = document.setdefault("components", {}).setdefault("schemas", {})
    components["Error"] = ERROR_SCHEMA
    for name in ("HTTPValidationError", "ValidationError"):
        components.pop(name, None)
    for path, item in document.get("paths", {}).items():
        for method, operation in item.items():
            if method not in {"get", "post", "put", "patch", "delete"}:
                continue
            if path == METRICS_PATH:  # its own token check (an officer's or the scraper's)
                operation.setdefault("security", [{"bearer": []}])
            responses = operation.setdefault("responses", {})
            responses.pop("422", None)  # FastAPI's default; validation errors are 400 here
            for status in sorted(_statuses(path, method, operation)):
                error = {"application/json": {"schema": ERROR_REF}}
                responses[str(status)] = {"description": DESCRIPTIONS[status], "content": error}
            if path == QUERY_PATH and method == "post":
                _declare_query_formats(operation, QUERY_RESULT)
            if path == HITS_PATH and method == "get":  # a stored hit list, in any format
                _declare_query_formats(operation, HITS_RESULT)
            ok = responses.get("200", {}).get("content", {})
            if "application/ld+json" in ok:  # the DCAT export is JSON-LD only
                ok.pop("application/json", None)


def install_contract(app: FastAPI) -> None:
    """Wrap ``app.openapi`` (already set by ``install_bearer_scheme``) so the document
    it builds, once, declares the errors and formats."""
    previous: Callable[[], dict[str, Any]] = app.openapi
    done: dict[str, bool] = {}

    def openapi() -> dict[str, Any]:
        document = previous()
        if not done:
            _declare(document)
            done["yes"] = True
        return document

    app.openapi = openapi  # type: ignore[method-assign]
