"""What ``sluice query`` and ``sluice compare`` share: the gateway they talk to, the
token they present, and the options that shape a request.

These are analysts' tools: they run on a desk, far from the gateway's database, and
speak only HTTP. So this module imports nothing of the server and nothing heavy at
import time (``sluice --help`` stays fast): httpx and rich are imported by
``gateway.cli.download`` when a command runs.

The token is a bearer credential worth a day of someone's access, so it never travels
on the command line (other users see argv in ``ps``, shells keep it in history): it
comes from ``SLUICE_TOKEN`` or a file (``--token-file``), is never printed, not even
in an error, and goes only to the gateway named — over HTTPS, or plain HTTP to this
machine's loopback (a test or an SSH tunnel) unless ``--allow-http`` says otherwise;
redirects are not followed, so it cannot be forwarded elsewhere.
"""

from __future__ import annotations

import ipaddress
import json
import os
import stat
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlsplit

import click

DEFAULT_URL = "http://127.0.0.1:8000"
# every format of the query API (gateway/enforcement/query/formats.py, checked by
# tests/gateway/cli/test_client_query.py): the client must not import the server to know them
FORMATS = ("json", "ndjson", "csv", "csv_raw", "parquet", "arrow", "xlsx")
BINARY_FORMATS = frozenset({"parquet", "arrow", "xlsx"})
SUFFIX_FORMATS = {".json": "json", ".ndjson": "ndjson", ".jsonl": "ndjson", ".csv": "csv",
                  ".parquet": "parquet", ".arrow": "arrow", ".arrows": "arrow",
                  ".xlsx": "xlsx"}  # fmt: skip
_TOKEN_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.~+/=")

F = TypeVar("F", bound=Callable[..., Any])


@dataclass(frozen=True)
class Remote:
    """A gateway and the credential to present to it (kept out of ``repr``)."""

    url: str
    token: str = field(repr=False)

    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}", "User-Agent": "sluice-cli"}


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_url(url: str, *, allow_http: bool) -> str:
    """The gateway's base URL without a trailing slash, or a usage error saying why not."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise click.BadParameter(f"{url!r} is not an http(s) URL", param_hint="--url")
    if parts.username or parts.password:
        raise click.BadParameter("put no credentials in the URL: use SLUICE_TOKEN or "
                                 "--token-file", param_hint="--url")  # fmt: skip
    if parts.query or parts.fragment:
        raise click.BadParameter("the URL is the gateway's base, without ? or #",
                                 param_hint="--url")  # fmt: skip
    if parts.scheme == "http" and not allow_http and not _is_loopback(parts.hostname):
        raise click.BadParameter(
            f"plain http to {parts.hostname} would send the token in clear: use https, or "
            "--allow-http if this network is meant to carry it", param_hint="--url",
        )  # fmt: skip
    return url.rstrip("/")


def _checked_token(token: str, where: str) -> str:
    """One bearer token, or an error that names where it came from — never its text."""
    token = token.strip()
    if not token or not set(token) <= _TOKEN_CHARS:
        raise click.ClickException(f"{where} does not hold one bearer token")
    return token


def read_token(token_file: Path | None) -> str:
    """The token from ``--token-file`` if given, else from ``SLUICE_TOKEN``."""
    if token_file is not None:
        try:
            mode = token_file.stat().st_mode
            text = token_file.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise click.ClickException(f"cannot read the token file {token_file}: "
                                       f"{type(exc).__name__}") from None  # fmt: skip
        if os.name == "posix" and mode & (stat.S_IRWXG | stat.S_IRWXO):
            click.echo(f"warning: {token_file} is readable by other users (chmod 600 it)",
                       err=True)  # fmt: skip
        return _checked_token(text, f"the token file {token_file}")
    env = os.environ.get("SLUICE_TOKEN")
    if env is None:
        raise click.ClickException(
            "no token: set SLUICE_TOKEN or pass --token-file FILE (a token comes from your "
            "sign-in, or `sluice token USER` on a demo gateway)"
        )
    return _checked_token(env, "SLUICE_TOKEN")


def remote_options(command: F) -> F:
    """``--url``, ``--token-file`` and ``--allow-http``."""
    command = click.option(
        "--allow-http", is_flag=True, help="allow plain http to a host other than this machine"
    )(command)
    command = click.option(
        "--token-file", type=click.Path(dir_okay=False, path_type=Path),
        help="file holding the bearer token (default: the SLUICE_TOKEN variable)",
    )(command)  # fmt: skip
    return click.option("--url", envvar="SLUICE_URL", default=DEFAULT_URL, show_default=True,
                        help="the gateway (or SLUICE_URL)")(command)  # fmt: skip


def remote_from(url: str, token_file: Path | None, allow_http: bool) -> Remote:
    return Remote(url=check_url(url, allow_http=allow_http), token=read_token(token_file))


@dataclass(frozen=True)
class Output:
    """Where a result goes and how it ends (see ``gateway.cli.download``)."""

    fmt: str
    out: Path | None
    force: bool = False
    bom: bool = False
    progress: bool = True
    fail_if_truncated: bool = False


def output_options(command: F) -> F:
    """``--format``, ``--out``, ``--force``, ``--bom``, ``--no-progress``,
    ``--fail-if-truncated``."""
    options = [
        click.option("--fail-if-truncated", is_flag=True,
                     help="exit with status 3 when the result was cut, or the gateway "
                          "could not say whether it was"),
        click.option("--no-progress", "no_progress", is_flag=True,
                     help="no progress bar on stderr"),
        click.option("--bom", is_flag=True, help="CSV: start with a UTF-8 BOM (for Excel)"),
        click.option("--force", is_flag=True, help="replace FILE if it exists"),
        click.option("--out", "--output", "-o", "out",
                     type=click.Path(dir_okay=False, path_type=Path),
                     help="write to FILE (via FILE.part, renamed when complete); "
                          "default: standard output"),
        click.option("--format", "fmt", type=click.Choice(FORMATS),
                     help="result format (default: from FILE's suffix, else json)"),
    ]  # fmt: skip
    for option in options:
        command = option(command)
    return command


def output_from(fmt: str | None, out: Path | None, **flags: bool) -> Output:
    """The output asked for; the format defaults to what ``out``'s suffix names."""
    chosen = fmt or (SUFFIX_FORMATS.get(out.suffix.lower()) if out else None) or "json"
    return Output(fmt=chosen, out=out, force=flags.get("force", False),
                  bom=flags.get("bom", False), progress=not flags.get("no_progress", False),
                  fail_if_truncated=flags.get("fail_if_truncated", False))  # fmt: skip


def split_fields(values: tuple[str, ...]) -> list[str]:
    """``--fields a,b --fields c`` → ``["a", "b", "c"]``."""
    return [name.strip() for value in values for name in value.split(",") if name.strip()]


def parse_where(values: tuple[str, ...], option: str = "--where") -> list[dict[str, Any]]:
    """Filters in the API's shape: each value is a JSON object
    ``{"field": …, "op": …, "value": …}`` or a list of them, or ``@FILE`` holding either.
    Only the shape is checked here; the gateway checks fields and operators."""
    clauses: list[dict[str, Any]] = []
    for value in values:
        text = value
        if value.startswith("@"):
            try:
                text = Path(value[1:]).read_text(encoding="utf-8")
            except OSError as exc:
                raise click.BadParameter(f"cannot read {value[1:]}: {exc.strerror}",
                                         param_hint=option) from None  # fmt: skip
        try:
            parsed = json.loads(text)
        except json.JSONDecodeError as exc:
            example = '{"field": "region_code", "op": "prefix", "value": "4301"}'
            raise click.BadParameter(f"not JSON ({exc.msg} at {exc.pos}); e.g. '{example}'",
                                     param_hint=option) from None  # fmt: skip
        items = parsed if isinstance(parsed, list) else [parsed]
        for item in items:
            if not isinstance(item, dict) or "field" not in item or "op" not in item:
                raise click.BadParameter('each filter is {"field": …, "op": …, "value": …}',
                                         param_hint=option)  # fmt: skip
            clauses.append(item)
    return clauses
