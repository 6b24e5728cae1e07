"""``docs/deploy.md`` as the tests read it: its marked blocks, and a PostgreSQL database
with the guide's two roles, built by running those blocks as written.

A block is marked by ``<!-- test: NAME -->`` on the line before its fence. Role and
database names carry a random tag (roles are cluster-wide and the machine's PostgreSQL
is shared by every test run); passwords are random and unused (the test server trusts
local connections), but the SQL that sets them runs as written.
"""

from __future__ import annotations

import os
import re
import secrets
import shlex
import subprocess
import sys
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import psycopg

from tests.conftest import PG_ADMIN

ROOT = Path(__file__).resolve().parents[2]
GUIDE = ROOT / "docs" / "deploy.md"
_MARKED = re.compile(r"<!-- test: (?P<name>[\w.-]+) -->\n```[\w-]*\n(?P<body>.*?)\n```", re.S)
_HOST = PG_ADMIN.rsplit("/", 1)[0].removeprefix("postgresql://").rsplit("@", 1)[-1]


def guide_text() -> str:
    return GUIDE.read_text(encoding="utf-8")


def block(name: str) -> str:
    """The body of the block marked ``name``; exactly one must exist."""
    found = [m["body"] for m in _MARKED.finditer(guide_text()) if m["name"] == name]
    if len(found) != 1:
        raise LookupError(f"docs/deploy.md has {len(found)} blocks marked {name!r}")
    return found[0]


def code_blocks() -> list[str]:
    """Every fenced block's body, fences found line by line (some are indented)."""
    blocks: list[str] = []
    current: list[str] | None = None
    indent = 0
    for line in guide_text().splitlines():
        stripped = line.lstrip()
        if stripped.startswith("```"):
            if current is None:
                current, indent = [], len(line) - len(stripped)
            else:
                blocks.append("\n".join(current))
                current = None
        elif current is not None:
            current.append(line[indent:])
    return blocks


def inline_code() -> list[str]:
    """Every inline code span outside the fenced blocks."""
    prose = re.sub(r"^\s*```.*?^\s*```", "", guide_text(), flags=re.S | re.M)
    return re.findall(r"`([^`\n]+)`", prose)


def env_file(name: str = "env") -> dict[str, str]:
    """A ``KEY=value`` block, as systemd's EnvironmentFile reads it."""
    pairs = {}
    for line in block(name).splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            key, _, value = line.partition("=")
            pairs[key.strip()] = value.strip()
    return pairs


@dataclass(frozen=True)
class GuideDatabase:
    """A database made by the guide's roles.sql, migrated and granted."""

    name: str
    owner: str
    app: str

    def url(self, role: str) -> str:
        """The SQLAlchemy URL the guide tells a gateway to use."""
        return f"postgresql+psycopg://{role}@{_HOST}/{self.name}"

    def libpq(self, role: str) -> str:
        """The same for psql and psycopg."""
        return f"postgresql://{role}@{_HOST}/{self.name}"

    @property
    def owner_url(self) -> str:
        return self.url(self.owner)

    @property
    def app_url(self) -> str:
        return self.url(self.app)


def psql(url: str, sql: str, **variables: str) -> str:
    """Run ``sql`` through psql as the guide does (``-v name=value`` for each variable)."""
    argv = ["psql", url, "-X", "-q", "-v", "ON_ERROR_STOP=1"]
    for key, value in variables.items():
        argv += ["-v", f"{key}={value}"]
    done = subprocess.run(argv, input=sql, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"psql failed ({done.returncode}): {done.stderr.strip()}")
    return done.stdout


def run_migration(owner_url: str) -> None:
    """The guide's migration command, with this interpreter for ``.venv/bin/sluice``
    (the tests may run from a copy of the tree without its own virtualenv)."""
    here = f"{shlex.quote(sys.executable)} -m gateway.cli.main"
    command = block("migrate").replace(".venv/bin/sluice", here, 1)
    env = {**os.environ, "OWNER_URL": owner_url}
    done = subprocess.run(["bash", "-c", command], cwd=ROOT, env=env, capture_output=True,
                          text=True, check=False)  # fmt: skip
    if done.returncode != 0:
        raise RuntimeError(f"the guide's migration failed: {done.stderr.strip()[-2000:]}")


@contextmanager
def guide_database(prefix: str = "sluice_ops") -> Iterator[GuideDatabase]:
    """roles.sql as a superuser, the migration as the owner, grants.sql as the owner;
    the database and both roles are dropped afterwards."""
    tag = uuid.uuid4().hex[:10]
    db = GuideDatabase(name=f"{prefix}_{tag}", owner=f"{prefix}_owner_{tag}",
                       app=f"{prefix}_app_{tag}")  # fmt: skip
    psql(PG_ADMIN, block("roles.sql"), owner=db.owner, app=db.app, db=db.name,
         owner_password=secrets.token_hex(16), app_password=secrets.token_hex(16))  # fmt: skip
    try:
        run_migration(db.owner_url)
        psql(db.libpq(db.owner), block("grants.sql"), app=db.app)
        yield db
    finally:
        with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{db.name}" WITH (FORCE)')
            conn.execute(f'DROP ROLE IF EXISTS "{db.app}"')
            conn.execute(f'DROP ROLE IF EXISTS "{db.owner}"')


def runtime_role_lines(db: GuideDatabase, home: Path) -> list[str]:
    """``sluice doctor``'s lines about the runtime role, run as a gateway host of ``db``
    would run it (its runtime role's URL, no other ``SLUICE_`` setting)."""
    from click.testing import CliRunner

    from gateway.cli.doctor_cmd import doctor

    env: dict[str, str | None] = {k: None for k in os.environ if k.startswith("SLUICE_")}
    env.update(SLUICE_HOME=str(home), SLUICE_DATABASE_URL=db.app_url)
    result = CliRunner().invoke(doctor, ["--timeout", "2"], env=env)
    return [line for line in result.output.splitlines() if "runtime role" in line]
