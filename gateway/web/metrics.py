"""``GET /metrics`` in Prometheus text format, for the operators' dashboards.

Two kinds of figure: what the HTTP layer counts as requests pass (requests by route and
status, latency histograms — route *templates*, never raw paths, so an attacker cannot
blow up the series count), and what is read from the collaborators at scrape time (the
audit writer's counters and queue, checkpoints and witness lag, the seal, alerts by rule
and state, policy decisions and cache hits). Reading at scrape time keeps the request
path free of metric bookkeeping beyond one counter and one histogram observation.

Who may scrape: a security officer (casbin ``metrics:read``) with their own token, or a
scraper presenting ``SLUICE_METRICS_TOKEN``. Each scrape by a person is not audited (it
shows no partner data), but refusals are, like any refused request.
"""

from __future__ import annotations

import hmac
import math
from collections import Counter as Tally
from collections.abc import Iterator

from fastapi import APIRouter, Request, Response
from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from starlette.types import Scope

from audit.alert_state import alert_states
from audit.alert_watch import beat_age_s
from audit.events import utc_now
from audit.log import AuditLog
from gateway.core.services import Services
from gateway.web.current_user import current_user

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)


# HTTP lets a method be any token: one the gateway does not serve is counted as "other",
# never under its own name, which the caller chooses (red team 20: a new series each)
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


def method_label(method: object) -> str:
    """The request's method as a label: one of ``METHODS``, else ``other``."""
    return method if isinstance(method, str) and method in METHODS else "other"


class HttpMetrics:
    """The per-request series; one set per app (tests run several apps in a process)."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.requests = Counter("sluice_http_requests", "HTTP requests by route and status",
                                ["method", "route", "status"], registry=registry)  # fmt: skip
        self.latency = Histogram("sluice_http_request_duration_seconds",
                                 "HTTP request duration by route", ["route"],
                                 buckets=LATENCY_BUCKETS, registry=registry)  # fmt: skip

    def observe(self, scope: Scope, status: int, seconds: float) -> None:
        route = getattr(scope.get("route"), "path", None) or "unmatched"
        self.requests.labels(method_label(scope.get("method")), route, str(status)).inc()
        self.latency.labels(route).observe(seconds)


class StateCollector:
    """Figures read from the collaborators when Prometheus scrapes (a collector by
    duck typing: prometheus_client only calls ``collect``)."""

    def __init__(self, services: Services) -> None:
        self.services = services

    def collect(self) -> Iterator[GaugeMetricFamily | CounterMetricFamily]:
        log = self.services.audit
        if isinstance(log, AuditLog):  # the gateway's own log (a test may pass a stand-in)
            yield from self._audit(log)
            yield from self._alerts(log)
        yield from self._policy()

    def _audit(self, log: AuditLog) -> Iterator[GaugeMetricFamily | CounterMetricFamily]:
        counts = log.metrics
        for name, value, text in (
            ("appended", counts.appended, "audit events appended"),
            ("batches", counts.batches, "group commits"),
            ("checkpoints", counts.checkpoints, "signed checkpoints"),
            ("failures", counts.failures, "failed audit commits"),
            ("timeouts", counts.timeouts, "appends that timed out"),
            ("nowait_lost", counts.nowait_lost, "fire-and-forget events lost"),
        ):
            yield CounterMetricFamily(f"sluice_audit_{name}", text, value=value)
        yield GaugeMetricFamily("sluice_audit_queue_depth", "events waiting for the writer",
                                value=len(log.writer.queue))  # fmt: skip
        yield GaugeMetricFamily("sluice_audit_commit_seconds_last",
                                "duration of the last group commit",
                                value=counts.last_commit_s)  # fmt: skip
        yield CounterMetricFamily("sluice_audit_commit_seconds", "time spent in group "
                                  "commits (divide by batches for the mean)",
                                  value=counts.commit_s_total)  # fmt: skip
        yield GaugeMetricFamily("sluice_audit_sealed", "1 while the trail is sealed",
                                value=1.0 if log.seal.sealed else 0.0)  # fmt: skip
        status = log.status()
        head = int(status["head"]["seq"])
        witnessed = int(status["witnessed"]["seq"] or 0)
        yield GaugeMetricFamily("sluice_audit_head_seq", "sequence of the newest event",
                                value=head)  # fmt: skip
        yield GaugeMetricFamily("sluice_audit_witness_lag_events",
                                "events appended since the last witnessed checkpoint",
                                value=max(head - witnessed, 0))  # fmt: skip
        age = status["monitor"]["last_check_age_s"]
        if age is not None:
            yield GaugeMetricFamily("sluice_audit_monitor_check_age_seconds",
                                    "seconds since the head was last compared with the "
                                    "witnesses", value=float(age))  # fmt: skip

    def _alerts(self, log: AuditLog) -> Iterator[GaugeMetricFamily]:
        states = alert_states(log.home)
        tally: Tally[tuple[str, str, str]] = Tally()
        for snap in states.snapshots():
            aid = str(snap.get("id", ""))
            tally[(str(snap.get("rule")), str(snap.get("severity")),
                   states.state(aid)["state"])] += 1  # fmt: skip
        family = GaugeMetricFamily("sluice_alerts", "alerts by rule, severity and state",
                                   labels=["rule", "severity", "state"])  # fmt: skip
        for (rule, severity, state), n in sorted(tally.items()):
            family.add_metric([rule, severity, state], n)
        yield family
        age = beat_age_s(log.home, utc_now())
        runner = getattr(log, "alert_runner", None)
        if age is None and getattr(runner, "reads_itself", False):
            age = math.inf  # told the rules run elsewhere, none seen: no series hid it
        if age is not None:
            yield GaugeMetricFamily("sluice_alert_rules_seen_age_seconds",
                                    "seconds since this home's alert rule process last "
                                    "wrote its beat", value=age)  # fmt: skip

    def _policy(self) -> Iterator[CounterMetricFamily]:
        pdp = self.services.pdp
        hits, misses = getattr(pdp, "hits", None), getattr(pdp, "misses", None)
        if isinstance(hits, int) and isinstance(misses, int):
            yield CounterMetricFamily("sluice_policy_decisions", "policy decisions asked for",
                                      value=hits + misses)  # fmt: skip
            yield CounterMetricFamily("sluice_policy_cache_hits",
                                      "decisions answered from the cache", value=hits)  # fmt: skip


def build_registry(services: Services) -> tuple[CollectorRegistry, HttpMetrics]:
    registry = CollectorRegistry(auto_describe=False)
    http = HttpMetrics(registry)
    registry.register(StateCollector(services))
    return registry, http


router = APIRouter(tags=["meta"])


def _is_scraper(request: Request, services: Services) -> bool:
    expected = services.settings.metrics_token
    header = request.headers.get("authorization", "")
    scheme, _, presented = header.partition(" ")
    if expected is None or scheme.lower() != "bearer" or not presented:
        return False
    return hmac.compare_digest(presented.strip().encode(), expected.get_secret_value().encode())


@router.get("/metrics", response_class=Response,
            responses={200: {"content": {CONTENT_TYPE: {}}}})  # fmt: skip
async def metrics(request: Request) -> Response:
    """Prometheus metrics; a security officer's token or ``SLUICE_METRICS_TOKEN``."""
    services: Services = request.app.state.services
    if not _is_scraper(request, services):
        user = await current_user(request)
        services.authorizer.check(subject=user.subject, domain="*", action="metrics:read")
    registry: CollectorRegistry = request.app.state.metrics_registry
    return Response(generate_latest(registry), media_type=CONTENT_TYPE)
