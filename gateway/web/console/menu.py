"""The console's menu: each item with the casbin action a role needs to see it.

``None``: every signed-in user; ``a|b``: either. The menu only hides; each page's
routes enforce with ``guard.page_permission`` (403). Apart from ``pages/`` so that the
rendering (which draws the menu on every page) does not import the pages that render.
"""

from __future__ import annotations

from typing import Any

from fastapi import Request

from gateway.web.console.caller import Caller, may

# (message key, href, casbin action needed in domain "*" or None)
NAVIGATION: tuple[tuple[str, str, str | None], ...] = (
    ("nav.home", "/console", None),
    ("nav.catalog", "/console/catalog", None),
    ("nav.query", "/console/query", "dataset:query"),
    ("nav.requests", "/console/requests", "access:request|access:approve"),
    ("nav.sources", "/console/sources", "source:register"),
    ("nav.comparisons", "/console/comparisons", "compare:run"),
    ("nav.audit", "/console/audit", "audit:read"),
    ("nav.admin", "/console/admin", "users:manage"),
)


def navigation(request: Request, caller: Caller | None) -> list[dict[str, Any]]:
    """The menu for ``caller``: what their roles may use (the server checks anyway)."""
    if caller is None:
        return []
    path = request.url.path
    items = []
    for key, href, action in NAVIGATION:
        if action is None or any(may(request, caller, a) for a in action.split("|")):
            active = path == href if href == "/console" else path.startswith(href)
            items.append({"key": key, "href": href, "active": active})
    return items
