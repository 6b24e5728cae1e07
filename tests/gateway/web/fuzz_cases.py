"""schemathesis' generated requests for every operation of the gateway's OpenAPI
document, drawn once and sent as several roles.

Drawing is most of what a fuzzing test costs (about 20 ms a case, against a few ms to
send one), and it does not depend on who sends the case: ``derandomize=True`` fixes
hypothesis' seed, and the drawing function never fails, so nothing is shrunk or
replayed. A test that sends the same cases as each role therefore draws them once
(test_schemathesis.py: four roles, 15 examples each, two of them checked against the
document too).
"""

from __future__ import annotations

import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.schemas import APIOperation

from tests.gateway.demo_app import DemoGateway

Drawn = list[tuple[str, list[schemathesis.Case]]]  # (operation label, its cases)


def draw_cases(gw: DemoGateway, examples: int) -> Drawn:
    """Up to ``examples`` generated cases of every operation, in the document's order."""
    schema = schemathesis.openapi.from_asgi("/openapi.json", gw.client.app)
    operations = [result.ok() for result in schema.get_all_operations()]
    return [(operation.label, _draw(operation, examples)) for operation in operations]


def _draw(operation: APIOperation, examples: int) -> list[schemathesis.Case]:
    cases: list[schemathesis.Case] = []

    @given(case=operation.as_strategy())
    @settings(
        max_examples=examples,
        deadline=None,
        derandomize=True,
        suppress_health_check=list(HealthCheck),
        database=None,
    )
    def run(case: schemathesis.Case) -> None:
        cases.append(case)

    run()
    return cases
