"""The ``sluice`` command list is written by hand so ``--help`` imports nothing; these
tests hold it to the commands themselves, and keep the heavy stack out of quick commands
(the time itself is measured in ``bench/cli_startup.py``, never asserted here)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from gateway.cli.main import COMMANDS, cli, load_command


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_listed_help_is_the_commands_own(name: str) -> None:
    command = load_command(name)
    assert command.name == name
    own = command.get_short_help_str(limit=60)
    assert COMMANDS[name][2] == own, f"update COMMANDS[{name!r}] to {own!r}"


def test_help_lists_every_command() -> None:
    result = CliRunner().invoke(cli, ["--help"])
    assert result.exit_code == 0
    for name in COMMANDS:
        assert f"  {name} " in result.output


def test_unknown_command_is_a_usage_error() -> None:
    result = CliRunner().invoke(cli, ["nope"])
    assert result.exit_code == 2
    assert "No such command" in result.output


HEAVY = ("fastapi", "sqlalchemy", "pyarrow", "uvicorn", "regopy")


@pytest.mark.parametrize("argv", [["--help"], ["token", "--help"]])
def test_quick_commands_do_not_import_the_stack(argv: list[str]) -> None:
    probe = (
        "import sys; from gateway.cli.main import cli\n"
        f"try: cli({argv!r})\n"
        "except SystemExit: pass\n"
        f"print(sorted(m for m in {HEAVY!r} if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert out.stdout.strip().splitlines()[-1] == "[]"


# what ``sluice token`` itself needs none of on the embedded catalog: the user is read
# with sqlite3 (gateway.cli.token_subject), the revisions too (catalog.db.at_heads), the
# audit store takes the file from the URL without SQLAlchemy (catalog.db_url), and httpx
# comes with a witness sender only (issue 17)
NOT_FOR_TOKEN = (
    *HEAVY,
    "sqlalchemy",
    "catalog.models",
    "alembic",
    "httpx",
    "nats",
    "psycopg",
    "structlog",
    "rich",
)


def test_token_on_the_embedded_catalog_loads_neither_the_orm_nor_http(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in [name for name in os.environ if name.startswith("SLUICE_")]:
        monkeypatch.delenv(name)  # the embedded defaults, no witness
    monkeypatch.setenv("SLUICE_HOME", str(tmp_path / "home"))
    added = CliRunner().invoke(cli, ["users", "add", "bench", "--name", "Bench"])
    assert added.exit_code == 0, added.output
    probe = (
        "import sys; from gateway.cli.main import cli\n"
        "try: cli(['token', 'bench'])\n"
        "except SystemExit as exc: assert not exc.code, exc.code\n"
        f"print(sorted(m for m in {NOT_FOR_TOKEN!r} if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    token, loaded = out.stdout.strip().splitlines()[-2:]
    assert token.count(".") == 2  # it did mint (and record: test_redteam7_*)
    assert loaded == "[]"


def test_load_command_refuses_a_non_command(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(COMMANDS, "bogus", ("main", "COMMANDS", "x"))
    with pytest.raises(TypeError):
        load_command("bogus")
    assert isinstance(load_command("token"), click.Command)


def test_the_gateway_and_its_commands_start_without_pandas() -> None:
    """pyarrow imports pandas on the first ``pa.array``/``pa.scalar`` of Python objects:
    one at module level costs every gateway and CLI process about half a second."""
    probe = (
        "import sys, gateway.web.app, gateway.cli.serve_cmd, gateway.cli.users_cmd\n"
        "print('pandas' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert out.stdout.strip().splitlines()[-1] == "False"


def test_the_gateway_loads_the_opa_client_only_with_an_opa_server() -> None:
    """opa_client brings aiohttp and requests (a tenth of the gateway's imports); only
    ``SLUICE_OPA_URL`` needs it (``policies.opa_server.client_for``)."""
    probe = (
        "import sys, gateway.web.app\n"
        "from policies.pdp_builder import build_pdp\n"
        "build_pdp(opa_url=None)\n"
        "print(sorted(m for m in ('opa_client', 'aiohttp', 'requests') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert out.stdout.strip().splitlines()[-1] == "[]"


def test_loading_a_command_leaves_the_collector_as_it_found_it() -> None:
    """Imports run with the collector paused (``main._collector_paused``); the command
    itself runs with it on, and a caller that had it off keeps it off."""
    code = ("import gc, sys; from gateway.cli.main import load_command; "
            "load_command('serve'); on = gc.isenabled(); gc.disable(); "
            "load_command('users'); sys.exit(0 if on and not gc.isenabled() else 1)")  # fmt: skip
    assert subprocess.run([sys.executable, "-c", code], check=False).returncode == 0
