"""Entry point of the ``sluice`` command."""

from __future__ import annotations

import click


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def cli() -> None:
    """Sluice: a governed data-sharing gateway and catalog for oversight work."""


def _mount() -> None:
    """Import each command group and add it; groups live in their own modules."""
    from gateway.cli.audit_cmd import audit
    from gateway.cli.catalog_cmd import catalog
    from gateway.cli.demo_data_cmd import demo_data
    from gateway.cli.policy_cmd import policy
    from gateway.cli.serve_cmd import demo, serve
    from gateway.cli.sources_cmd import COMMANDS as source_commands
    from gateway.cli.token_cmd import token
    from gateway.cli.users_cmd import users

    cli.add_command(demo)
    cli.add_command(serve)
    cli.add_command(token)
    cli.add_command(demo_data)
    cli.add_command(catalog)
    cli.add_command(audit)
    cli.add_command(policy)
    cli.add_command(users)
    for group in source_commands:
        cli.add_command(group)


_mount()


if __name__ == "__main__":
    cli()
