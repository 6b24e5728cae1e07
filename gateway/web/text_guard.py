"""No request text the gateway cannot store or hand on: NUL and lone surrogates.

JSON lets a client send ``"\\u0000"`` and an unpaired ``"\\ud800"``. Neither is text
the rest of the product can carry: PostgreSQL refuses NUL in text, the policy engine
takes C strings (a NUL cuts them), and a lone surrogate is not UTF-8 — stored in a JSON
column it came back on every later read, so one steward's tag made the catalog listing
and the DCAT export fail for everyone. Rather than each schema remembering it, every
JSON body (all routes) and every path and query parameter is checked here, once, before any
route reads it: such a request is a 400, through the error handlers, so it is on record
like any other refusal. A surrogate *pair* (a non-BMP character) is ordinary text.
"""

from __future__ import annotations

import json
import re
from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import Request

from catalog.errors import BadRequest

_BAD = re.compile(r"[\x00\ud800-\udfff]")
# quick filter on the raw bytes: only bodies that may hold such a string are parsed
_MAYBE = re.compile(rb"\x00|\\u0000|\\u[dD][89a-fA-F]")
_WRITES = frozenset({"POST", "PUT", "PATCH", "DELETE"})


def _hostile(value: Any) -> bool:
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            if _BAD.search(item):
                return True
        elif isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return False


async def refuse_unstorable_text(request: Request) -> None:
    """An application-wide dependency: 400 for a NUL or a lone surrogate in a path or
    query parameter or anywhere in a JSON body's strings (keys included)."""
    params = [*request.query_params.values(), *request.path_params.values()]
    if any(isinstance(v, str) and _BAD.search(v) for v in params):
        raise BadRequest("text holding a NUL character or a lone surrogate is refused")
    if request.method not in _WRITES:
        return
    body = await request.body()
    if not body or not _MAYBE.search(body):
        return
    try:
        parsed = json.loads(body)
    except ValueError:
        return  # not JSON: the route's own validation answers
    if _hostile(parsed):
        raise BadRequest("text holding a NUL character or a lone surrogate is refused")


# the application-wide dependencies (``create_app``): every route runs them before its
# own, and a route that reads its inputs itself (the query's lean path) must run them too
APP_GUARDS: tuple[Callable[[Request], Awaitable[None]], ...] = (refuse_unstorable_text,)
