"""The OpenAPI document is a contract (issue 16): schemathesis generates requests from
``/openapi.json`` and checks every response against it — status codes declared, content
types declared, bodies matching their schemas, headers — as an analyst (alice) and a
steward (carl). Examples are limited so the test runs in about a minute; the "no 500"
fuzzing of every role is ``test_schemathesis.py``."""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.gateway.demo_app import DemoGateway

CHECKS = [status_code_conformance, content_type_conformance, response_headers_conformance,
          response_schema_conformance]  # fmt: skip
EXAMPLES = 10


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


@pytest.mark.parametrize("subject", ["alice", "carl"])
def test_responses_conform_to_the_document(gw_sqlite: DemoGateway, subject: str) -> None:
    schema = schemathesis.openapi.from_asgi("/openapi.json", gw_sqlite.client.app)
    token = gw_sqlite.token(subject, ttl=3600)
    failures: list[str] = []
    for result in schema.get_all_operations():
        operation = result.ok()

        @given(case=operation.as_strategy())
        @settings(
            max_examples=EXAMPLES,
            deadline=None,
            derandomize=True,
            suppress_health_check=list(HealthCheck),
            database=None,
        )
        def run(case: schemathesis.Case) -> None:
            try:
                case.call_and_validate(headers={"Authorization": f"Bearer {token}"},
                                       checks=CHECKS)  # fmt: skip
            except AssertionError as exc:  # schemathesis' failures are assertion errors
                failures.append(f"{case.method} {case.formatted_path}: {str(exc)[:400]}")
            except (Exception, BaseExceptionGroup) as exc:  # a failure group, as one
                failures.append(f"{case.method} {case.formatted_path}: "
                                f"{type(exc).__name__}: {str(exc)[:400]}")  # fmt: skip

        run()
    unique = sorted(set(failures))
    assert not unique, "\n".join(unique[:30])
