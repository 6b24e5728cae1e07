"""The console's pages: one module per page, each with its own ``router``.

``PAGES`` is what ``mount_console`` includes; the menu is ``console.menu.NAVIGATION``.
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
