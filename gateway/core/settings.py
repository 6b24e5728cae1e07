"""Settings, read once from ``SLUICE_*`` environment variables and validated.

Only the gateway reads the environment; other packages get what they need passed in.
"""

from __future__ import annotations

import ipaddress
import json
from pathlib import Path
from typing import Annotated, Literal
from urllib.parse import urlsplit

from pydantic import Field, SecretStr, ValidationInfo, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from audit.witness_urls import is_nats_url, parse_nats_url, redacted
from catalog.loopback import is_loopback
from gateway.core.host_names import allowed_host
from gateway.core.public_url import normalise_public_url

PLACEHOLDER_SECRETS = {"", "change-me", "changeme", "secret", "password"}


class Settings(BaseSettings):
    """Every knob of a Sluice process; ``SLUICE_`` + the upper-case name sets it."""

    # a refused value is never quoted back (URLs carry passwords): each validator's own
    # message says what is wrong without the secret
    model_config = SettingsConfigDict(env_prefix="SLUICE_", extra="ignore",
                                      hide_input_in_errors=True)  # fmt: skip

    home: Path = Field(default=Path("./.sluice"), description="embedded database, keys, demo data")
    database_url: str | None = Field(default=None, description="catalog + audit database URL")
    env: Literal["development", "production"] = "development"
    demo: bool = Field(default=True, description="demo mode: built-in issuer and demo users")
    log_level: str = "INFO"

    master_key: SecretStr | None = None
    master_key_previous: SecretStr | None = Field(
        default=None,
        description="the secret manager's master key before its rotation, read until "
        "`sluice keys rotate` re-wrapped every data key under SLUICE_MASTER_KEY",
    )
    # plain "a:b" or "a,b" lists in the environment (NoDecode: not JSON)
    file_roots: Annotated[list[Path], NoDecode] = Field(default_factory=list)
    http_allow_hosts: Annotated[list[str], NoDecode] = Field(default_factory=list)
    source_allow_hosts: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="hosts (names or IP literals) a network source may be on even though "
        "they resolve to a non-public address; SLUICE_HTTP_ALLOW_HOSTS is merged in",
    )
    trusted_proxies: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="IP addresses or networks (comma separated) of the reverse proxies "
        "whose X-Forwarded-For / X-Forwarded-Proto are believed; empty (the default): "
        "none, the client on record is the TCP peer",
    )  # fmt: skip
    public_url: str | None = Field(
        default=None,
        description="the gateway's address as its users reach it (https://host[:port][/path]); "
        "the DCAT catalog's links and the console's OIDC redirect URI are built from it, "
        "never from a request's Host header; unset: the address the request reached",
    )  # fmt: skip
    allowed_hosts: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="host names (or IP addresses, comma separated) clients may send as "
        "Host besides SLUICE_PUBLIC_URL's host, the address a request reached and, on "
        "loopback, localhost; any other Host is refused (400: DNS rebinding)",
    )  # fmt: skip
    statement_timeout_s: float = 30.0
    source_max_rows: int = 1_000_000

    oidc_issuer: str | None = None
    oidc_audience: str = "sluice"
    oidc_jwks_url: str | None = None
    claim_department: str = "dept"
    claim_roles: str = "roles"
    claim_clearance: str = "clearance"
    claim_jurisdiction: str = "jurisdiction"

    opa_url: str | None = None
    redis_url: str | None = None
    metrics_token: SecretStr | None = Field(
        default=None,
        description="bearer token a Prometheus scraper presents at /metrics (besides "
        "security officers' own tokens); at least 32 characters",
    )
    rate_limit: str = "600/minute"
    daily_row_quota: int = 2_000_000
    max_rows_by_level: dict[str, int] = Field(
        default_factory=dict,
        description='per-level row caps over the policy defaults, e.g. {"L2": 1000000}',
    )

    # class 7 of issue 11: one analyst's slow readers must not hold a source's pool
    source_max_connections: int = Field(
        default=16, ge=1,
        description="queries reading one source at once (keep it at or under its pool: 20)",
    )  # fmt: skip
    source_max_connections_per_user: int = Field(
        default=4, ge=1, description="queries one user may have reading one source at once"
    )
    source_slot_wait_s: float = Field(
        default=2.0, ge=0,
        description="how long a query waits for a busy source's connection before 503",
    )  # fmt: skip
    stream_stall_timeout_s: float = Field(
        default=20.0, gt=0,
        description="a client that takes no bytes for this long is cut off, query.aborted",
    )  # fmt: skip
    stream_govern_every_s: float = Field(
        default=1.0, gt=0,
        description="a streamed result in flight re-reads its caller's account this often",
    )  # fmt: skip

    comparison_max_side_rows: int = Field(
        default=1_000_000, ge=1,
        description="rows a comparison may read per side; more is refused, never cut",
    )  # fmt: skip
    # issue 15: comparison models run as jobs
    comparison_run_ttl_days: int = Field(
        default=30, ge=1, le=3650,
        description="days a done run's hit list is kept (its counts and leads stay)",
    )  # fmt: skip
    comparison_run_lease_s: float = Field(
        default=60.0, ge=1, le=3600,
        description="a run whose process renewed no heartbeat for this long is interrupted",
    )  # fmt: skip
    reidentification_release_days: int = Field(
        default=7, ge=1, le=365,
        description="days an approved re-identification releases its hits; then ask again",
    )  # fmt: skip
    comparison_workers: int = Field(
        default=2, ge=1, le=32, description="comparison runs executing at once per process"
    )
    comparison_scheduler: bool = Field(
        default=False, description="trigger due comparison schedules from this process"
    )
    warm_approval_index: bool = Field(
        default=False,
        description="at start, catch the trail indexes the approval checks and the "
        "console's sessions read up in a background thread (from their snapshots, or the "
        "whole trail), so that the first approval or console request does not wait for "
        "that walk (audit.follow_snapshot)",
    )
    comparison_scheduler_interval_s: float = Field(
        default=60.0, ge=0.05, le=86400,
        description="how often the scheduler looks for due ones (tests tick it fast)",
    )  # fmt: skip
    comparison_engine: Literal["embedded", "spark"] = Field(
        default="embedded", description="engine of a run that names none (embedded: Arrow)"
    )
    spark_master: str = Field(
        default="local[2]", min_length=1,
        description="Spark master of the spark engine (docs/comparison-spark.md)",
    )  # fmt: skip

    audit_checkpoint_every: int = 1000
    audit_checkpoint_seconds: float = Field(
        default=1.0, gt=0, le=60,
        description="a checkpoint is signed and witnessed at least this often while events "
        "arrive: the bound on what an insider can erase unseen (THREAT_MODEL.md)",
    )  # fmt: skip
    audit_append_timeout_s: float = 2.0
    audit_monitor_seconds: float = Field(
        default=1.0, gt=0, le=60,
        description="how often the chain head is compared with every witness",
    )  # fmt: skip
    # issue 12: witnesses (plain "a,b" lists in the environment)
    witnesses: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="where this gateway sends its checkpoints: witness gateways "
        "(https://…) and NATS JetStream streams (nats://host:port/<stream>)",
    )
    witness_trust: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="as a witness: pinned sender keys, 'sender=kid' items; others are pinned "
        "on first use only when witness_tofu is on (off by default: anyone could squat a name)",
    )  # fmt: skip
    witness_tofu: bool = False
    gateway_id: str | None = Field(
        default=None, pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$",
        description="this gateway's name at its witnesses (default: made once in home)",
    )  # fmt: skip
    # issue 12: live alerts pushed to a webhook (off the request path)
    alert_webhook_url: str | None = Field(
        default=None, pattern=r"^https?://", description="where new alerts are posted"
    )
    alert_webhook_secret: SecretStr | None = Field(
        default=None, description="HMAC key (generic) or the robot's signing secret"
    )
    alert_webhook_flavor: Literal["generic", "wecom", "dingtalk", "feishu"] = "generic"
    alert_eval_seconds: float = Field(
        default=2.0, gt=0, le=3600,
        description="the rule runner also wakes this often without appends (a seal, an "
        "unended query); appends wake it at once",
    )  # fmt: skip
    alert_runner: Literal["thread", "external"] = Field(
        default="thread",
        description="where the rule runner and pusher run: 'thread' in this process; "
        "'external' in a `sluice alerts run` process over the same home (what `sluice "
        "serve` starts), so evaluations do not take the requests' CPU",
    )
    # issue 12: alerts by email (smtplib); the password is never logged nor returned
    alert_smtp_host: str | None = Field(default=None, min_length=1, max_length=253)
    alert_smtp_port: int = Field(default=587, ge=1, le=65535)
    alert_smtp_from: str | None = Field(default=None, max_length=254)
    alert_smtp_to: Annotated[list[str], NoDecode] = Field(
        default_factory=list, description="recipients, comma separated"
    )
    alert_smtp_user: str | None = None
    alert_smtp_password: SecretStr | None = None
    alert_smtp_starttls: bool = Field(
        default=True, description="upgrade with STARTTLS before anything else is said"
    )
    alert_smtp_ca_file: Path | None = Field(
        default=None, description="trust anchors for the relay's certificate (default: system)"
    )
    # issue 12: a push that fails is retried with back-off, then given up (on the alert)
    alert_push_attempts: int = Field(default=8, ge=1, le=100)
    alert_push_backoff_seconds: float = Field(
        default=2.0, gt=0, le=3600, description="first retry delay, doubled each time"
    )
    alert_push_max_backoff_seconds: float = Field(default=300.0, gt=0, le=86400)
    alert_push_timeout_seconds: float | None = Field(
        default=None, gt=0, le=300,
        description="the bound on one push as a whole (connection, greeting, answer); "
        "default 5 s for a webhook, 10 s for mail",
    )  # fmt: skip
    # issue 12: thresholds of the rules added with live alerts
    alert_person_departments_per_day: int = Field(
        default=2, ge=1,
        description="one person's records may come from this many departments' data in a "
        "day; one more raises person_many_departments",
    )  # fmt: skip
    alert_baseline_days: int = Field(
        default=30, ge=1, le=366, description="days of a user's history their baseline learns"
    )
    alert_baseline_min_events: int = Field(
        default=20, ge=1, description="accesses a user needs on record before being compared"
    )
    alert_baseline_min_days: int = Field(
        default=5, ge=1, description="active days a user needs on record before being compared"
    )

    @field_validator("source_allow_hosts", mode="before")
    @classmethod
    def _split_hosts(cls, value: object) -> object:
        """Comma (or space) separated: a ``:`` separator would split IPv6 literals."""
        if isinstance(value, str):
            if value.strip().startswith("["):
                return json.loads(value)
            return [part for part in value.replace(",", " ").split() if part]
        return value

    @field_validator("trusted_proxies", mode="before")
    @classmethod
    def _proxy_networks(cls, value: object) -> object:
        """Comma or space separated IPs/CIDRs, each checked: uvicorn would take a typo
        for a literal host name and trust nothing, or a wildcard and trust everyone. A
        network is kept as the network it names (``10.0.0.1/8`` → ``10.0.0.0/8``, what
        the doctor shows): uvicorn parses networks strictly and took one with host bits
        for a host name, trusting nobody (red team 57)."""
        if isinstance(value, str):
            value = [part for part in value.replace(",", " ").split() if part]
        if isinstance(value, list):
            return [_proxy_network(str(item)) for item in value]
        return value

    @field_validator("public_url")
    @classmethod
    def _public_url(cls, value: str | None) -> str | None:
        """One origin and an optional path, ending in ``/``: the base every published
        link is joined to (``public_origin``), so a typo stops the start."""
        return None if value is None or not value.strip() else normalise_public_url(value)

    @field_validator("allowed_hosts", mode="before")
    @classmethod
    def _allowed_hosts(cls, value: object) -> object:
        """Comma or space separated names, each in its one spelling (``host_names``): a
        wildcard, a URL or a port is a typo that stops the start."""
        if isinstance(value, str):
            value = [part for part in value.replace(",", " ").split() if part]
        if isinstance(value, list):
            return [allowed_host(str(item)) for item in value]
        return value

    @field_validator("file_roots", "http_allow_hosts", mode="before")
    @classmethod
    def _split_list(cls, value: object) -> object:
        if isinstance(value, str):
            if value.strip().startswith("["):
                return json.loads(value)
            return [part for part in value.replace(",", ":").split(":") if part]
        return value

    @field_validator("witnesses", "witness_trust", "alert_smtp_to", mode="before")
    @classmethod
    def _split_commas(cls, value: object) -> object:
        """Comma lists (URLs hold colons, so not the ':' lists above)."""
        if isinstance(value, str):
            if value.strip().startswith("["):
                return json.loads(value)
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    @field_validator("witnesses")
    @classmethod
    def _witness_urls(cls, value: list[str]) -> list[str]:
        """Witness gateways (http(s)://…) and NATS JetStream streams
        (nats://host:port/<stream>), checked here so a typo stops the start."""
        for url in value:
            if is_nats_url(url):
                parse_nats_url(url)  # ValueError names what is wrong
            elif not url.startswith(("http://", "https://")):
                raise ValueError(f"witness URL must be http(s):// or nats://: {redacted(url)!r}")
        return value

    @field_validator("opa_url", "redis_url")
    @classmethod
    def _service_urls(cls, value: str | None, info: ValidationInfo) -> str | None:
        """The OPA server (http(s)://host[:port]) and the shared counters (Redis),
        checked here so a typo stops the start with the URL shown without its password:
        the refusals further in printed it whole into the service's journal (red team
        46: ``memcached://:pw@…``, ``user:pw@opa:8181``)."""
        if not value:
            return value
        name = f"SLUICE_{str(info.field_name).upper()}"
        shown = redacted(value)
        if info.field_name == "opa_url":
            parts = urlsplit(value)
            if parts.scheme not in ("http", "https") or not parts.hostname:
                raise ValueError(f"{name} must be http(s)://host[:port]: {shown!r}")
        elif not value.lower().startswith("redis"):
            raise ValueError(f"{name} must be a redis:// (or rediss://) URL: {shown!r}")
        _readable_address(name, value, shown)
        return value

    @field_validator("witness_trust")
    @classmethod
    def _witness_pins(cls, value: list[str]) -> list[str]:
        for item in value:
            sender, sep, kid = item.partition("=")
            if not sep or not sender.strip() or not kid.strip().startswith("ed25519-"):
                raise ValueError(f"witness trust items are 'sender=ed25519-…': {item!r}")
        return value

    @field_validator("alert_smtp_to", "alert_smtp_from", "alert_smtp_host", "alert_smtp_user")
    @classmethod
    def _no_line_breaks(cls, value: object) -> object:
        """Addresses and names go into SMTP commands and headers: no CR, LF or NUL."""
        for item in value if isinstance(value, list) else [value]:
            if isinstance(item, str) and any(c in item for c in "\r\n\x00"):
                raise ValueError("SMTP settings cannot hold line breaks or NUL characters")
        return value

    @model_validator(mode="after")
    def _smtp_complete(self) -> Settings:
        if self.alert_smtp_host is None:
            return self
        if not self.alert_smtp_from or "@" not in self.alert_smtp_from:
            raise ValueError("SLUICE_ALERT_SMTP_FROM (an address) is needed with an SMTP host")
        if not self.alert_smtp_to or not all("@" in a for a in self.alert_smtp_to):
            raise ValueError("SLUICE_ALERT_SMTP_TO (comma-separated addresses) is needed "
                             "with an SMTP host")  # fmt: skip
        credentials = self.alert_smtp_user or self.alert_smtp_password
        if credentials and not self.alert_smtp_starttls and not is_loopback(self.alert_smtp_host):
            raise ValueError(
                "SMTP credentials would cross the network in clear: set "
                "SLUICE_ALERT_SMTP_STARTTLS=true (or relay through loopback)"
            )
        return self

    @model_validator(mode="after")
    def _refuse_placeholders(self) -> Settings:
        key = self.master_key
        placeholder = key is not None and (
            key.get_secret_value().strip().lower() in PLACEHOLDER_SECRETS
        )
        if self.env == "production" and placeholder:
            raise ValueError("SLUICE_MASTER_KEY is a placeholder; set a real key")
        scraper = self.metrics_token
        if scraper is not None and len(scraper.get_secret_value().strip()) < 32:
            raise ValueError("SLUICE_METRICS_TOKEN must be at least 32 characters")
        return self

    @property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.home / 'sluice.db').resolve()}"

    @property
    def effective_source_allow_hosts(self) -> list[str]:
        """The network guard's allow-list for every source kind (HTTP, PostgreSQL,
        MySQL/MariaDB): ``SLUICE_SOURCE_ALLOW_HOSTS`` plus the older HTTP-only list."""
        return list(dict.fromkeys([*self.source_allow_hosts, *self.http_allow_hosts]))

    @property
    def demo_data_dir(self) -> Path:
        return self.home / "demo"

    @property
    def effective_file_roots(self) -> list[Path]:
        """Allowed roots for file and SQLite sources; the demo departments' directory
        is allowed in demo mode so the embedded default works out of the box."""
        roots = list(self.file_roots)
        if self.demo:
            roots.append(self.demo_data_dir)
        return roots


def _proxy_network(item: str) -> str:
    """One ``SLUICE_TRUSTED_PROXIES`` entry as uvicorn must be given it: an address as
    written, a network without host bits."""
    try:
        network = ipaddress.ip_network(item, strict=False)
    except ValueError:
        raise ValueError(f"SLUICE_TRUSTED_PROXIES: {item!r} is not an IP "
                         "address or network") from None  # fmt: skip
    return str(network) if "/" in item else item


def load_settings(**overrides: object) -> Settings:
    """Read the environment once; tests pass overrides instead of patching."""
    return Settings(**overrides)  # type: ignore[arg-type]


def _readable_address(name: str, value: str, shown: str) -> None:
    """Refuse a service URL whose port cannot be read: a password typed with an
    unencoded ``/`` ends the authority there, and the client's own refusal quoted the
    password as the port (red team 47)."""
    try:
        urlsplit(value).port  # noqa: B018 - parsing it is the check
    except ValueError:
        raise ValueError(
            f"{name} has no readable host and port (a password's '/', '?', "
            f"'#' or '@' is written percent-encoded): {shown!r}"
        ) from None
