"""``sluice token USER [--ttl SECONDS]``: mint a bearer token from the embedded issuer.

The user must exist in the catalog's ``users`` table (the demo seeds ``alice arthur
fiona carl sam root``); their department, roles, clearance and jurisdiction go into the
token as they are stored. Only the token is printed, so ``$(sluice token alice)`` works.
"""

from __future__ import annotations

import click

from gateway.auth.lifetimes import DEFAULT_TTL_S, MAX_TTL_S

# the signing stack, the settings and the catalog are imported when the command runs,
# not when ``sluice`` lists its commands


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
    from sqlalchemy import select

    from catalog.models import User
    from gateway.auth.authenticator import claim_names_from
    from gateway.auth.issuer import EMBEDDED_ISSUER, mint_token
    from gateway.auth.keys import load_or_create_signing_key
    from gateway.cli.store import catalog_session
    from gateway.core.settings import load_settings

    settings = load_settings()
    if settings.oidc_issuer or settings.oidc_jwks_url:
        raise click.ClickException(
            "an OIDC provider is configured (SLUICE_OIDC_ISSUER); get tokens from it instead"
        )
    with catalog_session() as session:
        row = session.scalars(select(User).where(User.subject == user)).one_or_none()
        if row is None:
            known = ", ".join(session.scalars(select(User.subject).order_by(User.subject)))
            raise click.ClickException(
                f"unknown user {user!r}; known users: {known or '(none: run sluice demo)'}"
            )
        minted = mint_token(
            user=row,
            key=load_or_create_signing_key(settings.home),
            issuer=EMBEDDED_ISSUER,
            audience=settings.oidc_audience,
            ttl=ttl,
            claim_names=claim_names_from(settings),
        )
    click.echo(minted)
