"""An analyst (dora) pulls her own record right after it was recorded in another
process: an operator's ``sluice users set-id-number`` on the host, or an admin's
``PUT /api/v1/admin/users/dora/id-number`` through another replica.

Rule (DESIGN.md, "identity is read fresh"): a change to a user governs their very next
request, in every process. Red team 36 made the process that records the number forget
its cached token; every other process kept it up to a minute (``OWN_TOKEN_TTL_S``), so
dora's read of her own record right after was on the trail as ``self_hash_hit: false``
and opened no own-records alert (red team 36's left row). Expected: the cached token is
good for the catalog generation it was read under (``users`` bumps it in the same
transaction as the change), on the embedded default and on PostgreSQL.
"""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from gateway.cli.main import cli
from tests.attacks.redteam36 import DIBAO, dibao_ids_body, dibao_number, query_completed
from tests.gateway.demo_app import DemoGateway

BODY = dibao_ids_body("JW-S33-ELSEWHERE", 20)


def _hit(gw: DemoGateway) -> bool:
    resp = gw.query("dora", DIBAO, BODY)
    assert resp.status_code == 200, resp.text[:300]
    return bool(query_completed(gw, resp.headers["X-Request-Id"])["details"]["self_hash_hit"])


def test_an_own_number_recorded_by_another_process_governs_the_next_query(
    deployment: DemoGateway, monkeypatch: pytest.MonkeyPatch
) -> None:
    gw = deployment
    own = dibao_number(gw, 5)  # the 6th row dora reads
    assert _hit(gw) is False  # her own token (none yet) is now cached by the gateway
    monkeypatch.setenv("SLUICE_HOME", str(gw.settings.home))
    monkeypatch.setenv("SLUICE_DATABASE_URL", gw.settings.resolved_database_url)
    monkeypatch.setenv("DORA_ID", own)
    result = CliRunner().invoke(cli, ["users", "set-id-number", "dora", "--from-env", "DORA_ID"],
                                catch_exceptions=False)  # fmt: skip
    assert result.exit_code == 0, result.output
    assert _hit(gw) is True
