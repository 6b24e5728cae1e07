"""Property-based API fuzzing from the OpenAPI document: no input gives a 500.

Every operation gets generated (valid and invalid) inputs through schemathesis'
hypothesis strategies, signed in as each role so requests reach the broker, the
policy, registration and the audit trail. (schemathesis' own pytest plugin does not
load under pytest 9, so the strategies are driven directly.)
"""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings

from tests.gateway.demo_app import DemoGateway


@pytest.mark.parametrize("subject", ["alice", "carl", "sam", "root"])
def test_no_input_gives_a_server_error(gw_sqlite: DemoGateway, subject: str) -> None:
    """As an analyst, a steward, a security officer and an admin, so each role's
    routes are reached past authorization."""
    schema = schemathesis.openapi.from_asgi("/openapi.json", gw_sqlite.client.app)
    token = gw_sqlite.token(subject, ttl=3600)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 15, [op.label for op in operations]
    failures: list[str] = []
    calls = [0]

    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(
            max_examples=15,
            deadline=None,
            derandomize=True,
            suppress_health_check=list(HealthCheck),
            database=None,
        )
        def run(case: schemathesis.Case) -> None:
            response = case.call(headers={"Authorization": f"Bearer {token}"})
            calls[0] += 1
            if response.status_code >= 500:
                failures.append(
                    f"{case.method} {case.formatted_path} {case.body!r} -> "
                    f"{response.status_code}: {response.text[:300]}"
                )

        run()
    assert not failures, "\n".join(failures[:20])
    assert calls[0] >= 5 * len(operations)
