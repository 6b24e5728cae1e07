"""The console's own knobs, ``SLUICE_CONSOLE_*`` in the environment.

Apart from ``gateway.core.settings`` because they matter to the browser front end only;
the OIDC provider itself (issuer, JWKS URL, claim names) is the gateway's, shared with
bearer tokens, so a console sign-in and an API token map claims the same way.
Read once by ``gateway.web.console.mount_console`` (tests pass their own).
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class ConsoleSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="SLUICE_CONSOLE_", extra="ignore",
                                      hide_input_in_errors=True)  # fmt: skip

    idle_timeout_s: int = Field(
        default=30 * 60, ge=60, le=24 * 3600,
        description="a session unused for this long is over (sign in again)",
    )  # fmt: skip
    max_session_s: int = Field(
        default=12 * 3600, ge=300, le=30 * 24 * 3600,
        description="a session ends this long after its sign-in, however busy (a copied "
        "cookie kept in use does not live for ever)",
    )  # fmt: skip
    max_failures: int = Field(
        default=5, ge=1, le=100,
        description="consecutive wrong passwords that lock a local account",
    )  # fmt: skip
    lockout_s: int = Field(
        default=15 * 60, ge=1, le=7 * 24 * 3600,
        description="how long a locked local account refuses every password",
    )  # fmt: skip
    argon2_time_cost: int = Field(
        default=3, ge=1, le=50,
        description="argon2id passes per password hash (argon2-cffi's default; raise it on "
        "fast hardware, never lower it in production)",
    )  # fmt: skip
    argon2_memory_kib: int = Field(
        default=65536, ge=1024, le=4 * 1024 * 1024,
        description="argon2id memory per password hash in KiB (argon2-cffi's default, 64 "
        "MiB; never lower it in production)",
    )  # fmt: skip
    sign_in_attempts_per_minute: int = Field(
        default=20, ge=1,
        description="sign-in attempts one client address may make a minute (the trail "
        "records each, so anonymous guessing is bounded before it is written)",
    )  # fmt: skip
    oidc_client_id: str | None = Field(
        default=None, description="the console's client id at the OIDC provider"
    )
    oidc_client_secret: SecretStr | None = Field(
        default=None, description="its secret (confidential client); PKCE is used either way"
    )
    oidc_scope: str = "openid profile"
    assets_dir: Path | None = Field(
        default=None,
        description="where `make install` (npm ci) put the front-end packages "
        "(node_modules); default: the repository's own",
    )
