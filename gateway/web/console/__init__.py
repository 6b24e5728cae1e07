"""The web console (issue 14): server-rendered pages (Jinja2 + htmx) over the same
services as the API, served by the gateway itself at ``/console``.

Layout — one concern per module:

- ``mount``: ``mount_console(app, services, directory)`` builds the collaborators
  (``runtime.Console``) and includes every router; ``gateway.web.app`` calls it;
- ``guard``: the signed-in caller (session → identity read fresh), page permissions
  (casbin, 403), CSRF, and ``ConsoleRoute`` (errors as HTML, refusals on the trail);
- ``sessions`` / ``passwords`` / ``oidc`` / ``auth_pages``: sessions, local accounts,
  the OIDC code flow with PKCE, and the sign-in / sign-out pages;
- ``rendering`` / ``i18n``: templates (autoescaped) and the one message catalog;
- ``security``: CSP and the other response headers; ``assets``: the front-end files
  (``npm ci`` into ``node_modules``, allow-listed by name);
- ``pages/``: one module per page, each with its own ``router``.

Adding a page (say, access requests):

1. ``pages/requests.py`` with ``router = APIRouter(route_class=ConsoleRoute,
   include_in_schema=False)``. Each route depends on ``console_caller`` (any signed-in
   user) or ``page_permission("access:approve")`` (casbin; the server's refusal is the
   403 the role tests check); a state-changing route also depends on ``csrf_form`` (put
   it after the permission, so an unauthorised role gets 403 before anything else).
   Call the service the API route calls (``gateway.stewardship.grants.service``, the
   broker, ...) and append the audit event the API route appends, never a variant.
2. Add the module to ``PAGES`` in ``pages/__init__.py``, and to ``NAVIGATION`` in
   ``menu.py`` with the casbin action that decides whether the menu shows it.
3. ``templates/requests.html`` extending ``base.html`` (``{% block content %}``; no
   inline ``<script>``, ``style=`` or ``on*=``: the CSP blocks them). Forms post with
   a hidden ``csrf_token``; for htmx, give the swapped region an id and use
   ``hx-select`` with it (an htmx request receives the content block alone).
4. Every string through ``_("key")``: add the key to both dicts of ``i18n.py``.
5. Tests in ``tests/gateway/web/console/``: the role matrix in ``test_roles.py`` lists each page and
   form with the roles that may use it.
"""

from gateway.web.console.mount import mount_console

__all__ = ["mount_console"]
