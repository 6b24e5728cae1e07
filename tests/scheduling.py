"""How ``pytest -n 4 --dist loadgroup`` shares the suite between its workers (four on
the machines' two cores: the suite waits more than it computes, ``Makefile`` says so).

Two rules, applied to the collected items (``tests/conftest.py`` calls ``arrange``):

* **A module is one work unit.** Without a group, xdist sends each test on its own, so
  most modules ran on both workers and every module-scoped fixture — a demo gateway, a
  ``sluice serve`` process, a live console and its Chromium — was built twice, once per
  worker (and again whenever a worker came back to a module after another one). An
  explicit ``xdist_group`` (``spark``, ``ops-*``) is kept: it names a unit that spans
  modules or that must stay on one worker.
* **The longest units go first.** A worker takes the next unit when it is free; a unit of
  two minutes taken last keeps the run open while the other worker idles. ``LONGEST``
  lists the units that took the most time in a full run (longest first); every other
  unit keeps its place in the collection. ``--no-loadscope-reorder`` (pyproject's
  addopts) stops xdist from re-sorting the units by their number of tests instead.

Only the order of work changes: no test is added, dropped or skipped, and the tests of
one module still run in their collected order, on one worker.
"""

from __future__ import annotations

import pytest

# Units by time spent in a full two-worker run, longest first: the sum of each unit's
# entries in --durations=120 of the run of 2026-12-04 19:01 (three suites shared the two
# cores, load 9 on average, so the seconds are inflated; the order is what is used), then
# units of the earlier list that held many short tests behind one long set-up. A unit
# missing here only runs later; a stale entry costs nothing. Taken out on 2026-12-05, no
# longer long: the insider-audit, run-lease and red team 4 mid-stream modules (they waited
# on whole seconds; their intervals are settings the tests now set small).
LONGEST = (
    "spark",
    "tests/gateway/web/test_schemathesis.py",
    "tests/gateway/web/console/test_accessibility.py",
    "tests/audit/test_faults.py",
    "tests/gateway/web/console/test_journey_refusals.py",
    "ops-replicas",
    "tests/audit/test_alert_incremental.py",
    "tests/gateway/web/console/test_journey_reidentification.py",
    "tests/gateway/web/console/test_journey_sql_sources.py",
    "tests/gateway/web/console/test_journey_audit.py",
    "tests/gateway/web/console/test_journey_sources.py",
    "tests/gateway/web/console/test_journey.py",
    "tests/audit/test_verify_parallel.py",
    "ops-lease",
    "tests/gateway/web/console/test_home.py",
    "tests/attacks/test_anonymous_forwarded.py",
    "tests/gateway/enforcement/masking/test_masking_small.py",
    "tests/ops/test_db_migrate.py",
    "tests/gateway/enforcement/query/test_streaming_memory.py",
    "tests/gateway/cli/test_client_readme.py",
    "tests/attacks/test_redteam8_analyst_console_comparison.py",
    "ops-guide",
    "tests/attacks/test_redteam8_operator_demo_on_production.py",
    "tests/gateway/web/test_docs_pages.py",
    # from `pytest -n 2 tests/attacks --durations=80` of 2026-12-06 (load ~10): the
    # attack units longer than red team 6's xlsx pull that were not listed
    "tests/attacks/test_redteam22_officer_console_read_flood.py",
    "tests/attacks/test_redteam23_witnesses_at_once.py",
    "tests/attacks/test_steward_sources.py",
    "tests/attacks/test_ops31_console_oidc_trickle.py",
    "tests/attacks/test_redteam24_officer_export_in_flight.py",
    "tests/attacks/test_redteam23_alert_rules_stalled.py",
    "tests/attacks/test_redteam23_alert_rules_missing.py",
    "tests/gateway/web/console/test_journey_file_sources.py",
    "tests/gateway/web/console/test_journey_requests.py",
    "tests/gateway/enforcement/query/test_aggregates_suppression.py",
    "tests/attacks/test_redteam6_analyst_xlsx_mid_flight.py",
    "tests/gateway/web/console/test_audit_charts.py",
    "tests/gateway/enforcement/test_limits_redis_down.py",
    "tests/gateway/cli/test_client_query.py",
    "tests/gateway/cli/test_client_compare.py",
    "tests/gateway/cli/test_serve_output.py",
    "tests/gateway/cli/test_client_compare_run.py",
    "tests/gateway/core/test_heap.py",
)


def unit_of(item: pytest.Item) -> str:
    """The work unit of ``item``: its explicit group, else its module's path."""
    marker = item.get_closest_marker("xdist_group")
    if marker is not None:
        return str(marker.args[0] if marker.args else marker.kwargs.get("name", "default"))
    return item.nodeid.split("::", 1)[0]


def arrange(items: list[pytest.Item]) -> None:
    """Group each ungrouped test by its module, then put the longest units first (a
    stable sort: the order inside a unit, and of the units not listed, is kept)."""
    for item in items:
        if item.get_closest_marker("xdist_group") is None:
            item.add_marker(pytest.mark.xdist_group(unit_of(item)))
    rank = {unit: place for place, unit in enumerate(LONGEST)}
    items.sort(key=lambda item: rank.get(unit_of(item), len(LONGEST)))
