"""``sluice doctor``'s checks, one module per part of ``docs/deploy.md``.

Each check reads the deployment and never changes it (no migration, no key created, no
witness stream made), so it can run beside a serving gateway, before the first start
and from monitoring. ``report`` holds what a check answers and the context every check
reads; ``config``, ``database``, ``home`` and ``network`` hold the checks themselves;
``runner`` runs them in the guide's order.
"""
