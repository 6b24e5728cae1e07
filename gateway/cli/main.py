"""Entry point of the ``sluice`` command.

Command groups are imported only when they run: ``sluice --help`` imports click alone,
and ``sluice token`` only what minting and recording ``token.issued`` need — no FastAPI,
pyarrow, uvicorn or policy engine, and on the embedded catalog no SQLAlchemy either
(issue 17). The short help of each command is written here so the list needs no import;
``tests/gateway/cli/test_startup.py`` checks it against each command's own help and the
modules each quick command loads.
"""

from __future__ import annotations

import gc
import importlib
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from types import TracebackType

import click

# name -> (module under gateway.cli, attribute: a click command or group, short help)
COMMANDS: dict[str, tuple[str, str, str]] = {
    "alerts": ("alerts_cmd", "alerts", "Live alert rules, run beside the gateway."),
    "audit": ("audit_cmd", "audit", "The tamper-evident audit trail."),
    "catalog": ("catalog_cmd", "catalog", "Browse and search the data resource catalog."),
    "compare": ("compare_cmd", "compare", "Match two catalog entries on a key; save the matches."),
    "datasets": ("sources_cmd", "datasets", "Draft, classify and publish catalog entries."),
    "db": ("db_cmd", "db", "Schema migrations of the catalog and audit database."),
    "demo": ("serve_cmd", "demo", "Set up the demo departments, catalog and users..."),
    "demo-data": ("demo_data_cmd", "demo_data", "Generate the finance, civil affairs and audit..."),
    "doctor": ("doctor_cmd", "doctor", "Check this deployment against docs/deploy.md."),
    "keys": ("sources_cmd", "keys", "Master keys of the secret store (envelope encryption)."),
    "policy": ("policy_cmd", "policy", "Test, evaluate and bundle the data policies."),
    "query": ("query_cmd", "query", "Query a catalog entry through a gateway and save the result."),
    "serve": ("serve_cmd", "serve", "Serve the gateway with the settings from the SLUICE_*..."),
    "sources": ("sources_cmd", "sources", "Register and inspect partner departments' sources."),
    "token": ("token_cmd", "token", "Print a bearer token for USER, signed by the embedded..."),
    "users": ("users_cmd", "users", "Users, their attributes and role assignments (casbin)."),
}  # fmt: skip


def load_command(name: str) -> click.Command:
    module, attribute, _ = COMMANDS[name]
    with _collector_paused():
        command = getattr(importlib.import_module(f"gateway.cli.{module}"), attribute)
    if not isinstance(command, click.Command):
        raise TypeError(f"gateway.cli.{module}.{attribute} is not a click command")
    return command


@contextmanager
def _collector_paused() -> Iterator[None]:
    """The garbage collector off while a command's modules are imported, back as it was
    after. Importing ``serve``'s (FastAPI, SQLAlchemy, pyarrow, the console) allocates
    hundreds of thousands of long-lived objects, and the collector's default thresholds
    ran full collections over them again and again: ~0.3 s of a ~2 s start-up's CPU
    (``python -c 'import gateway.cli.serve_cmd'`` with and without ``gc.disable()``),
    paid by every ``sluice serve``, its alert-rule process and each CLI command. Imports
    make next to no garbage cycles; a serving process then freezes what start-up built
    (``gateway.core.heap``)."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


class LazyGroup(click.Group):
    """A group whose sub-commands are imported on first use (click's documented pattern)."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in COMMANDS:
            return None
        return load_command(cmd_name)

    def resolve_command(
        self, ctx: click.Context, args: list[str]
    ) -> tuple[str | None, click.Command | None, list[str]]:
        # seen before the group's callback runs: a sub-command's help stays click alone
        ctx.meta["sluice.asks_help"] = any(arg in ("--help", "-h") for arg in args[1:])
        return super().resolve_command(ctx, args)

    def invoke(self, ctx: click.Context) -> object:
        try:
            return super().invoke(ctx)
        except click.ClickException as exc:
            # click prints it as it is: a command's one line quotes what a database or a
            # source said (``SluiceError.message`` keeps a carriage return), and an
            # insider's trigger message wrote over the error line (red team 62), or added
            # a line of its own under it: no command means a line break in its error, so
            # every control is escaped, line breaks too (red team 62's left row)
            from catalog.controls import one_line

            vars(exc)["message"] = one_line(exc.message)  # ``message`` is Final to mypy
            raise
        except Exception as exc:
            from gateway.cli.unavailable import unavailable_message

            message = unavailable_message(exc)
            if message is None:
                raise
            raise click.ClickException(message) from None

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        rows = [(name, COMMANDS[name][2]) for name in self.list_commands(ctx)]
        with formatter.section("Commands"):
            formatter.write_dl(rows)


# commands whose log lines, if any, come through ``audit.lazy_log`` (which sends them to
# stderr itself): the others import structlog anyway, so they configure it at once
QUICK = frozenset({"token"})


def escaped_excepthook(
    kind: type[BaseException], value: BaseException, tb: TracebackType | None
) -> None:
    """Python's report of an exception no command turned into a line, every control
    character but the line breaks shown as ``\\uXXXX``: a failure no command foresaw is
    a bug and keeps its traceback, but its last lines quote what the database said — an
    insider's trigger message (``RAISE``), a revision, a constraint's name — and printed
    raw, an escape sequence among them ran in the operator's terminal (red team 61)."""
    import traceback

    from catalog.controls import lines_shown

    sys.stderr.write(lines_shown("".join(traceback.format_exception(kind, value, tb))))
    sys.stderr.flush()


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.pass_context
def cli(ctx: click.Context) -> None:
    """Sluice: a governed data-sharing gateway and catalog for oversight work."""
    sys.excepthook = escaped_excepthook
    asks_help = ctx.meta.get("sluice.asks_help", False)
    if ctx.invoked_subcommand not in QUICK and not asks_help:  # stdout: the output alone
        from audit.lazy_log import logs_to_stderr

        logs_to_stderr()


if __name__ == "__main__":
    cli()
