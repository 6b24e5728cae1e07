"""``/metrics``: Prometheus figures for the security officer or a configured scraper —
and for nobody else, tried as each other role and as a stranger would."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.gateway.demo_app import DemoGateway, demo_gateway

SCRAPER = "s" * 40
DIBAO = "civil.dibao_recipients"
CASE = {"purpose": "supervision", "case_ref": "JW-2026-METRICS"}


@pytest.fixture(scope="module")
def scraped(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DemoGateway]:
    home: Path = tmp_path_factory.mktemp("metrics")
    with demo_gateway(home, metrics_token=SCRAPER) as gw:
        yield gw


def _families(text: str) -> dict[str, list[tuple[dict[str, str], float]]]:
    out: dict[str, list[tuple[dict[str, str], float]]] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            out.setdefault(sample.name, []).append((sample.labels, sample.value))
    return out


def test_officer_sees_requests_audit_and_policy_figures(deployment: DemoGateway) -> None:
    resp = deployment.client.post(f"/api/v1/datasets/{DIBAO}/query",
                                  json={"fields": ["region_code"], "limit": 1, **CASE},
                                  headers=deployment.headers("alice"))  # fmt: skip
    assert resp.status_code == 200, resp.text
    deployment.client.get("/api/v1/no/such/route/12345", headers=deployment.headers("alice"))
    resp = deployment.client.get("/metrics", headers=deployment.headers("sam"))
    assert resp.status_code == 200, resp.text
    assert resp.headers["content-type"].startswith("text/plain")
    fams = _families(resp.text)
    routes = {labels["route"] for labels, _ in fams["sluice_http_requests_total"]}
    assert "/api/v1/datasets/{dataset_id}/query" in routes or any(
        r.startswith("/api/v1/datasets/{") and r.endswith("/query") for r in routes
    )
    assert "unmatched" in routes  # raw paths never become series
    assert not any("12345" in r for r in routes)
    assert fams["sluice_http_request_duration_seconds_count"]
    assert fams["sluice_audit_appended_total"][0][1] >= 2
    assert fams["sluice_audit_sealed"][0][1] == 0
    assert "sluice_audit_witness_lag_events" in fams
    assert "sluice_audit_queue_depth" in fams
    assert fams["sluice_policy_decisions_total"][0][1] >= 1


@pytest.mark.parametrize("role_user", ["alice", "carl", "root"])
def test_other_roles_are_refused(deployment: DemoGateway, role_user: str) -> None:
    resp = deployment.client.get("/metrics", headers=deployment.headers(role_user))
    assert resp.status_code == 403, resp.text


def test_strangers_are_refused(deployment: DemoGateway) -> None:
    assert deployment.client.get("/metrics").status_code == 401
    bogus = {"Authorization": "Bearer " + "x" * 40}
    assert deployment.client.get("/metrics", headers=bogus).status_code == 401


def test_scraper_token_and_only_it(scraped: DemoGateway) -> None:
    ok = scraped.client.get("/metrics", headers={"Authorization": f"Bearer {SCRAPER}"})
    assert ok.status_code == 200
    assert "sluice_audit_appended_total" in ok.text
    near = scraped.client.get("/metrics", headers={"Authorization": f"Bearer {SCRAPER[:-1]}x"})
    assert near.status_code == 401
    assert SCRAPER not in ok.text


def test_short_scraper_token_is_refused_at_start(tmp_path: Path) -> None:
    from gateway.core.settings import load_settings

    with pytest.raises(ValueError, match="at least 32"):
        load_settings(home=tmp_path, metrics_token="short")
