"""What ``sluice serve`` and ``sluice demo`` say when they start: where the gateway
listens, which databases, policy engine and witnesses it uses — with every credential
redacted, since these lines end up in terminals, CI logs and support tickets."""

from __future__ import annotations

import re
from urllib.parse import urlsplit, urlunsplit

from sqlalchemy.engine import make_url

from gateway.core.host_names import answered_names
from gateway.core.settings import Settings
from policies.bundle import load_policy_set

_SECRET_PARAM = re.compile(r"(?i)pass|secret|token")


def redact_url(url: str) -> str:
    """The URL without its secrets: a database's password becomes ``***``; for witness
    and service URLs (http, https, nats) the user information is dropped whole."""
    parts = urlsplit(url)
    if parts.scheme in {"http", "https", "nats", "tls", "ws", "wss"} or "://" not in url:
        host = parts.hostname or ""
        if parts.port:
            host = f"{host}:{parts.port}"
        return urlunsplit((parts.scheme, host, parts.path, "", ""))
    try:
        parsed = make_url(url)
        # drivers also take the password as a parameter (libpq ``password``,
        # ``sslpassword``; PyMySQL ``passwd``): hidden like the user information's
        hidden = {k: "***" for k in parsed.query if _SECRET_PARAM.search(k)}
        return parsed.update_query_dict(hidden).render_as_string(hide_password=True)
    except Exception:  # not a database URL after all: never print it whole
        return urlunsplit((parts.scheme, parts.hostname or "", parts.path, "", ""))


def policy_engine(settings: Settings) -> str:
    version = load_policy_set().version[:12]
    if settings.opa_url:
        return f"OPA server at {redact_url(settings.opa_url)} (local policy set {version})"
    return f"embedded Rego (regopy), policy set {version}"


def banner(settings: Settings, *, base_url: str, workers: int = 1,
           alerts: str | None = None) -> list[str]:  # fmt: skip
    database = redact_url(settings.resolved_database_url)
    witnesses = [redact_url(w) for w in settings.witnesses] or ["(none)"]
    limits = f"Redis {redact_url(settings.redis_url)}" if settings.redis_url else "in process"
    names = answered_names(settings.public_url, tuple(settings.allowed_hosts),
                           urlsplit(base_url).hostname or "")  # fmt: skip
    return [
        f"Sluice gateway listening on {base_url} ({workers} worker{'s' if workers > 1 else ''})",
        f"  environment   {settings.env}",
        f"  home          {settings.home.resolve()}",
        f"  catalog       {database}",
        f"  audit store   {database} (witness file in home)",
        f"  policy engine {policy_engine(settings)}",
        f"  witnesses     {', '.join(witnesses)}",
        f"  limits        {limits}",
        f"  host names    {names}",
        *([f"  alert rules   {alerts}"] if alerts else []),
    ]
