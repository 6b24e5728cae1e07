"""Red team 47, as an analyst (and whoever reads the logs): the Redis password shown.

Rule: a setting that carries a password is shown without it (red team 46: the
limiter's and the counters' refusals name ``SLUICE_REDIS_URL`` by its address only,
``audit.witness_urls.redacted``).

Attack: redis-py takes the password in the URL's query as well
(``redis://redis:6379/0?password=…``), and an unencoded ``/`` in a password ends the
URL's authority where ``redacted`` looked for the ``@``. ``redacted`` dropped only the
``user:password@`` it found before the first ``/``: (1) while the counters' store does
not answer, every analyst's query was refused with a 503 whose message (the JSON body
any caller reads) said ``SLUICE_REDIS_URL (redis://…/0?password=S3cret…) does not
answer``; (2) a password holding a ``/`` passed the settings' check and stopped every
``sluice`` command, ``sluice serve`` included, with redis-py's ``ValueError: Port could
not be cast to integer value as 'S3cret…'`` in the journal (``SLUICE_OPA_URL`` alike).

Expected: neither a caller nor the journal is shown the password. On the embedded
default and on PostgreSQL.
"""

from __future__ import annotations

import socket
import traceback
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.attacks.deployments import KINDS, open_deployment
from tests.attacks.redteam27 import run_cli
from tests.gateway.demo_app import DemoGateway

SECRET = "S3cret-pw-47"
DIBAO = "civil.dibao_recipients"
QUERY = {"purpose": "supervision", "case_ref": "JW-RT47-REDIS", "fields": ["region_code"],
         "limit": 1}  # fmt: skip


def _closed_port() -> int:
    """A loopback port nothing listens on (the counters' store is down)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module", params=KINDS)
def down(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
         ) -> Iterator[DemoGateway]:  # fmt: skip
    home: Path = tmp_path_factory.mktemp(f"rt47-redis-{request.param}")
    url = f"redis://127.0.0.1:{_closed_port()}/0?password={SECRET}"
    with open_deployment(request.param, home, db_prefix="sluice_rt47_redis",
                         redis_url=url) as gw:  # fmt: skip
        yield gw


def test_a_query_refused_while_redis_is_down_does_not_show_its_password(
    down: DemoGateway,
) -> None:
    resp = down.query("alice", DIBAO, QUERY)
    assert resp.status_code == 503, resp.text[:300]
    assert "SLUICE_REDIS_URL" in resp.text  # still says what is down
    assert SECRET not in resp.text, resp.text[:500]


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("SLUICE_REDIS_URL", f"redis://:{SECRET}/x@127.0.0.1:6379/0"),
        ("SLUICE_OPA_URL", f"http://sluice:{SECRET}/x@127.0.0.1:8181"),
    ],
    ids=["redis", "opa"],
)
def test_a_password_with_a_slash_is_not_printed(
    deployment: DemoGateway, monkeypatch: pytest.MonkeyPatch, name: str, value: str
) -> None:
    monkeypatch.setenv(name, value)
    result = run_cli(deployment, monkeypatch, "users", "list")
    assert result.exit_code != 0  # refused: the URL cannot be read
    shown = result.output
    if result.exception is not None:
        shown += "".join(traceback.format_exception(result.exception))
    assert name in shown, shown[-2000:]
    assert SECRET not in shown, shown[-2000:]
