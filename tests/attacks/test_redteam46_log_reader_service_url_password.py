"""Red team 46, as whoever reads the gateway's logs: a service URL's password printed.

Rule: settings that carry a password (``SLUICE_REDIS_URL``, ``SLUICE_OPA_URL``) are
shown without it — the banner, ``sluice doctor`` and the limiter's own messages
redact them (``gateway.cli.banner.redact_url``, ``limits.redacted``).

Attack: the operator names a counter store the gateway does not take
(``memcached://``, ``mongodb://``, a scheme misspelt ``rediss+tls://`` or ``redis-x://``)
or an OPA URL without its scheme (``user:pass@opa:8181``); every ``sluice`` command
that builds the gateway's services — ``sluice serve`` included, whose standard error
is the service's journal — stopped with ``ValueError: no atomic row reservation for
storage 'memcached://:S3cret-pw@…'`` (or limits' ``ConfigurationError: unknown storage
scheme``, or ``SLUICE_OPA_URL must be http(s)://host[:port], got 'u:S3cret-pw@…'``):
the password in clear for every reader of the logs.

Expected: the refusal names the setting and the address, never the password. On the
embedded default and on PostgreSQL.
"""

from __future__ import annotations

import traceback

import pytest

from tests.attacks.redteam27 import run_cli
from tests.gateway.demo_app import DemoGateway

SECRET = "S3cret-pw-46"


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("SLUICE_REDIS_URL", f"memcached://:{SECRET}@127.0.0.1:11211"),
        ("SLUICE_REDIS_URL", f"mongodb://sluice:{SECRET}@127.0.0.1:27017/limits"),
        ("SLUICE_REDIS_URL", f"redis-x://:{SECRET}@127.0.0.1:6379/0"),
        ("SLUICE_OPA_URL", f"sluice:{SECRET}@opa.example:8181"),
        ("SLUICE_OPA_URL", f"ftp://sluice:{SECRET}@opa.example:8181"),
    ],
    ids=["memcached", "mongodb", "misspelt-redis", "opa-no-scheme", "opa-ftp"],
)
def test_a_refused_service_url_is_shown_without_its_password(
    deployment: DemoGateway, monkeypatch: pytest.MonkeyPatch, name: str, value: str
) -> None:
    monkeypatch.setenv(name, value)
    result = run_cli(deployment, monkeypatch, "users", "list")
    assert result.exit_code != 0  # refused, as before
    shown = result.output
    if result.exception is not None:
        shown += "".join(traceback.format_exception(result.exception))
    assert "opa.example" in shown or "127.0.0.1" in shown, shown[-2000:]  # still says which
    assert SECRET not in shown, shown[-2000:]
