"""Red team 34's left row, as a steward (carl, civil) registering a SQL source: the TLS
parameters a source URL may carry (`sslrootcert` for PostgreSQL, `ssl_ca` for
MySQL/MariaDB) name a file on the *gateway's* host, which its driver opens.

Attack: `sslrootcert=/dev/zero` (a driver reading a root certificate reads until end of
file: a gateway thread spinning for ever), a directory, a file that does not exist, a
FIFO. The answers also told which paths exist on the gateway's host.

Expected: such a parameter names a regular file of at most 1 MiB (a CA bundle), or the
registration is refused, 400, before any connection — with one message whatever the
path is (no oracle of the gateway's files). On the embedded default and on PostgreSQL.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.attacks.test_steward_sources import allowing, civil_mysql, civil_pg, register, shown
from tests.gateway.demo_app import DemoGateway

__all__ = ["allowing", "civil_mysql", "civil_pg"]  # fixtures, used by name


@pytest.fixture(scope="module")
def fifo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("fifo") / "ca.pem"
    os.mkfifo(path)
    return path


def _paths(fifo: Path) -> list[str]:
    return ["/dev/zero", "/etc", "/nonexistent/ca.pem", str(fifo)]


@pytest.mark.parametrize("which", range(4))
@pytest.mark.parametrize(("kind", "database", "parameter"), [
    ("postgresql", "civil_pg", "sslmode=verify-ca&sslrootcert"),
    ("mysql", "civil_mysql", "ssl_ca"),
])  # fmt: skip
def test_a_certificate_file_parameter_names_a_regular_file(
    allowing: DemoGateway, request: pytest.FixtureRequest, fifo: Path,
    kind: str, database: str, parameter: str, which: int,
) -> None:  # fmt: skip
    path = _paths(fifo)[which]
    url = f"{shown(request.getfixturevalue(database))}?{parameter}={path}"
    answer = register(allowing, "carl", kind, {"url": url})
    assert answer.status_code == 400, answer.text
    assert "regular file" in answer.json()["message"], answer.text
    assert path not in answer.text  # one message, whatever the path
