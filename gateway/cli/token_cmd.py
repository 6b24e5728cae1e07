"""``sluice token USER [--ttl SECONDS]``: mint a bearer token from the embedded issuer.

The user must exist in the catalog's ``users`` table (the demo seeds ``alice arthur
fiona carl sam root``); their department, roles, clearance and jurisdiction go into the
token as they are stored. Only the token is printed, so ``$(sluice token alice)`` works.

Every token minted is on the audit trail before it is printed (``token.issued``: for
whom, the roles and clearance it carries, its lifetime and expiry, the host login that
ran the command as ``cli:<login>``); never the token, a credential. An append that fails
fails the command and nothing is printed. While the trail is sealed it takes nothing:
the record goes to the seal file, as an officer's reads do, so the two people who must
unseal can still get their tokens (red team 7); the unseal then appends it to the trail
(red team 8).
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import click

from gateway.auth.lifetimes import DEFAULT_TTL_S, MAX_TTL_S
from gateway.cli.host_login import host_login

if TYPE_CHECKING:
    from audit.sink import AuditSink
    from gateway.auth.issuer import TokenSubject
    from gateway.core.settings import Settings

# the signing stack, the settings and the catalog are imported when the command runs,
# not when ``sluice`` lists its commands; on the embedded catalog the user is read with
# sqlite3 (gateway.cli.token_subject), so neither SQLAlchemy nor the ORM models load


def _login() -> str:
    """The host account running the command (its real user id's)."""
    return host_login()


def _iso(epoch: int) -> str:
    return datetime.fromtimestamp(epoch, UTC).isoformat().replace("+00:00", "Z")


def record_issued(log: AuditSink, user: TokenSubject, *, issued: int, ttl: int, kid: str) -> None:
    """``token.issued`` for ``user`` on ``log``'s trail (fail closed), or in its seal file
    while sealed. ``sluice token`` and the tokens ``sluice demo`` prints (red team 8)."""
    from audit.log import AuditLog
    from audit.records import Actor, token_event
    from catalog.errors import Unavailable
    from gateway.auth.issuer import EMBEDDED_ISSUER

    details: dict[str, Any] = {
        "issuer": EMBEDDED_ISSUER, "kid": kid, "ttl_s": ttl,
        "issued_at": _iso(issued), "expires_at": _iso(issued + ttl),
        "roles": sorted(user.roles or ()), "clearance": user.clearance,
        "department": user.department,
    }  # fmt: skip
    if log.seal.sealed:
        if not isinstance(log, AuditLog):  # a write-only sink keeps no seal file
            raise Unavailable(log.seal.message())
        log.seal.record("access", sub=f"cli:{_login()}", roles=["cli"],
                        action="token.issued", subject=user.subject,
                        details=details)  # fmt: skip
    else:
        log.append(token_event(actor=Actor.cli(_login()), subject=user.subject,
                               details=details))  # fmt: skip


def _record(settings: Settings, row: TokenSubject, *, issued: int, ttl: int, kid: str) -> None:
    """``token.issued`` on the trail (fail closed), or in the seal file while sealed."""
    from gateway.wiring.audit_log import build_audit_log

    log = build_audit_log(settings)
    try:
        record_issued(log, row, issued=issued, ttl=ttl, kid=kid)
    finally:
        log.close()


@click.command("token")
@click.argument("user")
@click.option(
    "--ttl",
    type=click.IntRange(1, MAX_TTL_S),
    default=DEFAULT_TTL_S,
    show_default=True,
    help="lifetime of the token in seconds",
)
def token(user: str, ttl: int) -> None:
    """Print a bearer token for USER, signed by the embedded issuer."""
    from catalog.errors import SluiceError
    from gateway.core.settings import load_settings

    settings = load_settings()
    if settings.oidc_issuer or settings.oidc_jwks_url:
        raise click.ClickException(
            "an OIDC provider is configured (SLUICE_OIDC_ISSUER); get tokens from it instead"
        )
    try:
        minted = _mint_on_record(settings, user, ttl)
    except SluiceError as exc:
        raise click.ClickException(f"{exc.code}: {exc.message}") from None
    click.echo(minted)


def _mint_on_record(settings: Settings, user: str, ttl: int) -> str:
    """The signed token for ``user``, once its ``token.issued`` is on record."""
    from gateway.auth.claims import claim_names_from
    from gateway.auth.issuer import EMBEDDED_ISSUER, mint_token
    from gateway.auth.keys import load_or_create_signing_key
    from gateway.cli.token_subject import lookup_subject

    found = lookup_subject(settings, user)
    row = found.found
    if row is None:
        known = ", ".join(found.known)
        raise click.ClickException(
            f"unknown user {user!r}; known users: {known or '(none: run sluice demo)'}"
        )
    key = load_or_create_signing_key(settings.home)
    issued = int(time.time())
    minted = mint_token(
        user=row,
        key=key,
        issuer=EMBEDDED_ISSUER,
        audience=settings.oidc_audience,
        ttl=ttl,
        claim_names=claim_names_from(settings),
        now=issued,
    )
    # on record before it is printed: a token nobody can account for is a way in
    # nobody sees (red team 7)
    _record(settings, row, issued=issued, ttl=ttl, kid=key.kid)
    return minted
