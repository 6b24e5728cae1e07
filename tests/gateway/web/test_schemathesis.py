"""The OpenAPI document as a contract, and property-based fuzzing from it: no input gives
a 500 (issue 16).

schemathesis' hypothesis strategies generate requests (valid and invalid) for every
operation of ``/openapi.json``; they are sent signed in as each role, so requests reach
the broker, the policy, registration and the audit trail, and none may answer 5xx. As an
analyst (alice) and a steward (carl) every response is also checked against the document:
status codes declared, content types declared, bodies matching their schemas, headers.
(schemathesis' own pytest plugin does not load under pytest 9, so the strategies are
driven directly.)

The inputs are drawn once per module and sent as each role. Generation is
``derandomize=True`` and does not depend on the answers (the drawing test never fails,
so hypothesis never shrinks), so each role is sent exactly the same cases in the same
order: drawing them once per role, and again for the conformance checks in a module of
their own, took most of the time (tests/gateway/web/fuzz_cases.py).
"""

from __future__ import annotations

from typing import Any

import pytest
import schemathesis
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.gateway.demo_app import DemoGateway
from tests.gateway.web.fuzz_cases import Drawn, draw_cases

CHECKS = [status_code_conformance, content_type_conformance, response_headers_conformance,
          response_schema_conformance]  # fmt: skip
# whose every answer is checked against the document, beside "no 500"
CONFORMANCE_CHECKED = {"alice", "carl"}


@pytest.fixture(scope="module")
def drawn(gw_sqlite: DemoGateway) -> Drawn:
    return draw_cases(gw_sqlite, 15)


def test_every_operation_declares_its_errors(gw_sqlite: DemoGateway) -> None:
    doc = gw_sqlite.client.get("/openapi.json").json()
    assert doc["components"]["schemas"]["Error"]["required"] == ["code", "message"]
    for path, item in doc["paths"].items():
        for method, operation in item.items():
            codes = set(operation["responses"])
            assert "422" not in codes or method != "get", (method, path)
            assert {"400", "429", "503"} <= codes, (method, path)
            if operation.get("security"):
                assert {"401", "403"} <= codes, (method, path)
            if "{" in path:
                assert "404" in codes, (method, path)
    query = doc["paths"]["/api/v1/datasets/{dataset_id}/query"]["post"]["responses"]["200"]
    assert {"application/json", "text/csv", "application/x-ndjson",
            "application/vnd.apache.parquet", "application/vnd.apache.arrow.stream",
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"} == set(
        query["content"])  # fmt: skip
    assert "Sluice-Truncated" in query["headers"]
    dcat = [
        op
        for path, item in doc["paths"].items()
        for op in item.values()
        if "application/ld+json" in op["responses"].get("200", {}).get("content", {})
    ]
    assert dcat and all(set(op["responses"]["200"]["content"]) == {"application/ld+json"}
                        for op in dcat)  # fmt: skip


@pytest.mark.parametrize("subject", ["alice", "carl", "sam", "root"])
def test_no_input_gives_a_server_error(gw_sqlite: DemoGateway, drawn: Drawn, subject: str) -> None:
    """As an analyst, a steward, a security officer and an admin, so each role's
    routes are reached past authorization; the analyst's and the steward's answers are
    checked against the document too."""
    token = gw_sqlite.token(subject, ttl=3600)
    headers = {"Authorization": f"Bearer {token}"}
    assert len(drawn) >= 15, [label for label, _ in drawn]
    failures: list[str] = []
    nonconforming: set[str] = set()
    calls = [0]
    for _, cases in drawn:
        for case in cases:
            response = case.call(headers=headers)
            calls[0] += 1
            if response.status_code >= 500:
                failures.append(
                    f"{case.method} {case.formatted_path} {case.body!r} -> "
                    f"{response.status_code}: {response.text[:300]}"
                )
            elif subject in CONFORMANCE_CHECKED:
                nonconforming.update(_conformance_failures(case, response, headers))
    assert not failures, "\n".join(failures[:20])
    assert not nonconforming, "\n".join(sorted(nonconforming)[:30])
    assert calls[0] >= 5 * len(drawn)


def _conformance_failures(case: schemathesis.Case, response: Any,
                          headers: dict[str, str]) -> list[str]:  # fmt: skip
    try:
        case.validate_response(response, checks=CHECKS, headers=headers)
    except AssertionError as exc:  # schemathesis' failures are assertion errors
        return [f"{case.method} {case.formatted_path}: {str(exc)[:400]}"]
    except (Exception, BaseExceptionGroup) as exc:  # a failure group, as one
        return [f"{case.method} {case.formatted_path}: {type(exc).__name__}: {str(exc)[:400]}"]
    return []
