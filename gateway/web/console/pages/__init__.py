"""The console's pages: one module per page, each with its own ``router``.

``PAGES`` is what ``mount_console`` includes; ``NAVIGATION`` is the menu, each item
with the casbin action a role needs to see it (``None``: every signed-in user;
``a|b``: either). The
menu only hides; each page's routes enforce with ``guard.page_permission`` (403).
See ``gateway/web/console/__init__.py`` for how to add a page.
"""

from __future__ import annotations

from gateway.web.console.pages import (
    admin,
    audit,
    audit_alerts,
    catalog,
    comparison_runs,
    comparisons,
    home,
    query,
    requests,
    sources,
)

PAGES = (
    home,
    catalog,
    query,
    requests,
    sources,
    comparisons,
    comparison_runs,
    audit,
    audit_alerts,
    admin,
)

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
