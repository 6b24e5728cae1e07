"""``sluice policy test|eval|bundle``: tools for policy authors.

``test`` runs the Rego unit tests and every decision fixture through each engine on
this machine (regopy, and the OPA engine when installed) and requires identical
decisions; ``eval`` prints one decision and why; ``bundle`` writes the OPA bundle.
The work is in plain functions (``evaluate``, ``explain``, ``run_policy_tests``) so
tests call them with explicit dicts.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click

from gateway.cli.shown import shown
from policies.authoring import (
    FIXTURES_PATH,
    Outcome,
    RawDecide,
    load_cases,
    opa_available,
    opa_decider,
    regopy_decider,
    run_cases,
    run_rego_tests,
)
from policies.bundle import DEFAULT_REGO_DIR, load_policy_set, write_bundle
from policies.decision import Decision, DecisionInput, DecisionPoint, UserContext
from policies.inputs import build_input, request_input

# ---------------------------------------------------------------- core functions


def run_policy_tests(rego_dir: Path, fixtures: Path, echo: Callable[[str], None] = print) -> bool:
    """Rego unit tests + fixtures on every available engine; True when all pass."""
    policy_set = load_policy_set(rego_dir)
    ok = True
    if opa_available():
        outcomes = run_rego_tests(policy_set)
        ok &= _report("rego unit tests (OPA engine)", outcomes, echo)
    else:
        echo("rego unit tests: SKIPPED, the OPA engine (opa-golib-python-bindings) is missing")
    cases = load_cases(fixtures)
    engines = {"regopy": regopy_decider(policy_set)}
    if opa_available():
        engines["opa"] = opa_decider(policy_set)
    outputs: dict[str, list[str]] = {}
    for name, decide in engines.items():
        memo: list[str] = []

        def remember(
            value: dict[str, Any], decide: RawDecide = decide, memo: list[str] = memo
        ) -> Any:
            result = decide(value)
            memo.append(json.dumps(result, sort_keys=True))
            return result

        ok &= _report(f"decision fixtures ({name})", run_cases(remember, cases), echo)
        outputs[name] = memo
    if len(outputs) > 1:
        columns = list(outputs.values())
        differ = [
            Outcome(case["name"], False, "engines disagree")
            for i, case in enumerate(cases)
            if len({column[i] if i < len(column) else "" for column in columns}) > 1
        ]
        ok &= _report("engines agree", differ or [Outcome("all", True)], echo)
    echo(f"policy_version {policy_set.version}")
    return ok


def _report(title: str, outcomes: Sequence[Outcome], echo: Callable[[str], None]) -> bool:
    failed = [o for o in outcomes if not o.passed]
    echo(f"{title}: {len(outcomes) - len(failed)}/{len(outcomes)} passed")
    for outcome in failed:
        echo(f"  FAIL {outcome.name}: {outcome.detail}")
    return not failed


def evaluate(
    pdp: DecisionPoint,
    *,
    user: UserContext,
    dataset: dict[str, Any],
    request: dict[str, Any],
    grants: Sequence[dict[str, Any]] = (),
    now: datetime | str | None = None,
) -> Decision:
    """One decision for explicit user/dataset/request dicts (what ``eval`` prints)."""
    decision_input: DecisionInput = build_input(
        user=user, dataset=dataset, request=request, grants=grants, now=now or datetime.now(UTC)
    )
    return pdp.decide(decision_input)


def explain(decision: Decision) -> str:
    """Human-readable: the verdict, the reasons, then the field table."""
    verdict = (
        "ALLOW"
        if decision.allow
        else ("REQUIRES APPROVAL" if decision.requires_approval else "REFUSE")
    )
    # field names are a partner's column names, reasons name them: each on its line,
    # controls escaped (red team 29, as red team 24's ``sluice catalog show``)
    lines = [f"decision: {verdict}  (policy {shown(decision.policy_version[:12])})"]
    lines += [f"  why: {shown(reason)}" for reason in decision.reasons]
    if decision.approval_fields:
        lines.append(f"  approval needed for: {shown(', '.join(decision.approval_fields))}")
    lines.append(f"  max_rows: {decision.max_rows}")
    lines.append(f"  row_filter: {shown(json.dumps(decision.row_filter, ensure_ascii=False))}")
    for name, access in sorted(decision.fields.items()):
        method = f" ({shown(access.method)})" if access.method else ""
        lines.append(f"  field {shown(name)}: {shown(access.action)}{method}")
    return "\n".join(lines)


# ---------------------------------------------------------------- click commands


@click.group("policy")
def policy() -> None:
    """Test, evaluate and bundle the data policies."""


@policy.command("test")
@click.option("--rego-dir", type=click.Path(path_type=Path), default=DEFAULT_REGO_DIR)
@click.option("--fixtures", type=click.Path(path_type=Path), default=FIXTURES_PATH)
def test_cmd(rego_dir: Path, fixtures: Path) -> None:
    """Run Rego unit tests (test_ rules) and the decision fixtures."""
    if not run_policy_tests(rego_dir, fixtures, echo=click.echo):
        raise SystemExit(1)


@policy.command("bundle")
@click.option("--rego-dir", type=click.Path(path_type=Path), default=DEFAULT_REGO_DIR)
@click.option("--out", type=click.Path(path_type=Path), default=Path("sluice-policy.tar.gz"))
def bundle_cmd(rego_dir: Path, out: Path) -> None:
    """Write an OPA bundle tarball of the policy (load it into an OPA server)."""
    policy_set = load_policy_set(rego_dir)
    write_bundle(policy_set, out)
    click.echo(f"{out}  policy_version {policy_set.version}")


@policy.command("eval")
@click.option("--user", "subject", required=True, help="user subject in the catalog")
@click.option("--dataset", "dataset_id", required=True, help="catalog entry id")
@click.option("--fields", default="", help="comma-separated field names (default: all)")
@click.option("--purpose", default=None)
@click.option("--case-ref", default=None)
@click.option("--filter", "filters", multiple=True, help="FIELD:OP[:VALUE], repeatable")
@click.option("--order-by", default="", help="comma-separated field names")
@click.option("--group-by", default="", help="comma-separated field names")
@click.option("--unmask", default="", help="comma-separated PI fields wanted in clear")
@click.option("--json", "as_json", is_flag=True, help="print the decision as JSON")
def eval_cmd(
    subject: str,
    dataset_id: str,
    fields: str,
    purpose: str | None,
    case_ref: str | None,
    filters: tuple[str, ...],
    order_by: str,
    group_by: str,
    unmask: str,
    as_json: bool,
) -> None:
    """Print the decision for USER asking DATASET, and why: the identity as the gateway
    reads it (sealed row and sealed role lines only), of an entry whose seals verify."""
    from catalog.db import make_session_factory
    from catalog.entry_seals import require_entry_sealed
    from catalog.errors import EntryUnsealed, SluiceError
    from catalog.models import Dataset
    from gateway.cli.store import catalog_engine
    from gateway.core.settings import load_settings
    from gateway.stewardship.users.directory import ACTIVE, UNSEALED, load_identity
    from policies.inputs import dataset_input
    from policies.pdp_builder import build_pdp
    from policies.rbac import Authorizer

    with catalog_engine() as engine, make_session_factory(engine)() as session:
        stored = load_identity(session.connection(), subject)
        dataset_row = session.get(Dataset, dataset_id)
        if stored is None or dataset_row is None:
            missing = "user" if stored is None else "dataset"
            raise click.ClickException(f"no such {missing} in the catalog")
        if stored.status == UNSEALED:
            raise click.ClickException(
                f"account_unsealed: {subject}'s row was changed outside the gateway; "
                "the gateway refuses every request of this account (403) until an "
                "administrator saves it again through the gateway"
            )
        try:
            require_entry_sealed(session.connection(), dataset_row)
        except EntryUnsealed as exc:
            raise click.ClickException(f"{exc.code}: {exc.message} (the gateway answers "
                                       "423 to every query of it)") from None  # fmt: skip
        authorizer = Authorizer(engine)
        dataset = dataset_input(dataset_row)
    user = stored.context
    request = request_input(
        purpose=purpose,
        case_ref=case_ref,
        fields=_names(fields),
        filters=[_parse_filter(f) for f in filters],
        order_by=_names(order_by),
        group_by=_names(group_by),
        unmask=_names(unmask),
    )
    operation = authorizer.allowed(
        subject=subject, domain=dataset["department"], action="dataset:query"
    )
    try:
        decision = evaluate(
            build_pdp(opa_url=load_settings().opa_url), user=user, dataset=dataset, request=request
        )
    except SluiceError as exc:
        raise click.ClickException(exc.message) from exc
    if as_json:
        # one line of JSON: the controls json.dumps leaves raw (C1, U+2028) escaped as JSON
        click.echo(shown(json.dumps({"casbin": operation, **decision.to_dict()},
                                    ensure_ascii=False)))  # fmt: skip
        return
    if stored.status != ACTIVE:
        click.echo(f"account: {stored.status}: the gateway refuses every request (403)")
    click.echo(f"casbin dataset:query in '{shown(dataset['department'])}': {operation}")
    click.echo(explain(decision))


def _names(value: str) -> list[str]:
    return [part.strip() for part in value.split(",") if part.strip()]


def _parse_filter(text: str) -> dict[str, Any]:
    parts = text.split(":", 2)
    if len(parts) < 2:
        raise click.BadParameter(f"filter {text!r} is not FIELD:OP[:VALUE]")
    return {"field": parts[0], "op": parts[1], "value": parts[2] if len(parts) > 2 else None}
