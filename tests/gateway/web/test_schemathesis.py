"""Property-based API fuzzing from the OpenAPI document: no input gives a 500.

Every operation gets generated (valid and invalid) inputs through schemathesis'
hypothesis strategies, signed in as each role so requests reach the broker, the
policy, registration and the audit trail. (schemathesis' own pytest plugin does not
load under pytest 9, so the strategies are driven directly.)

The inputs are drawn once per module and sent as each role. Generation is
``derandomize=True`` and does not depend on the answers (the drawing test never
fails, so hypothesis never shrinks), so each role was already sent exactly the same
cases in the same order; drawing them four times took about three quarters of the
module's time (tests/gateway/web/fuzz_cases.py).
"""

from __future__ import annotations

import pytest

from tests.gateway.demo_app import DemoGateway
from tests.gateway.web.fuzz_cases import Drawn, draw_cases


@pytest.fixture(scope="module")
def drawn(gw_sqlite: DemoGateway) -> Drawn:
    return draw_cases(gw_sqlite, 15)


@pytest.mark.parametrize("subject", ["alice", "carl", "sam", "root"])
def test_no_input_gives_a_server_error(gw_sqlite: DemoGateway, drawn: Drawn, subject: str) -> None:
    """As an analyst, a steward, a security officer and an admin, so each role's
    routes are reached past authorization."""
    token = gw_sqlite.token(subject, ttl=3600)
    assert len(drawn) >= 15, [label for label, _ in drawn]
    failures: list[str] = []
    calls = [0]
    for _, cases in drawn:
        for case in cases:
            response = case.call(headers={"Authorization": f"Bearer {token}"})
            calls[0] += 1
            if response.status_code >= 500:
                failures.append(
                    f"{case.method} {case.formatted_path} {case.body!r} -> "
                    f"{response.status_code}: {response.text[:300]}"
                )
    assert not failures, "\n".join(failures[:20])
    assert calls[0] >= 5 * len(drawn)
