"""Source registration and catalog-entry editing by stewards (service layer).

Routes (``gateway.web.routes.sources``) and the CLI (``gateway.cli.sources_cmd``) are thin
shells over these keyword-only functions; the caller owns the transaction.
"""

from gateway.enforcement.sources.connect import limits_from_settings, open_source_adapter
from gateway.stewardship.registration.datasets import (
    create_draft,
    publish,
    refresh_schema,
    update_dataset,
)
from gateway.stewardship.registration.service import (
    check_and_connect,
    deregister_source,
    get_source,
    introspect,
    list_sources,
    refuse_secrets_in_settings,
    register_source,
    update_source,
)

__all__ = [
    "check_and_connect",
    "create_draft",
    "deregister_source",
    "get_source",
    "introspect",
    "limits_from_settings",
    "list_sources",
    "open_source_adapter",
    "publish",
    "refresh_schema",
    "refuse_secrets_in_settings",
    "register_source",
    "update_dataset",
    "update_source",
]
