"""The demo comparison models and what the generator plants for them: each model is a
valid rule over the demo entries, and each planted count — total and per county — is
what the same rule gives as plain SQL over the generated rows."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from catalog.demo.comparison_models import DEMO_MODELS, GRACE_DAYS
from catalog.demo.entries import dataset_entries
from catalog.demo.generator import Sizes, generate
from catalog.demo.targets import SqliteTarget
from gateway.enforcement.comparison.spec import ModelSpec, compile_model

SIZES = Sizes(payroll=1500, fund_disbursements=400, dibao_recipients=3000,
              death_registrations=400, audit_findings=50, payroll_on_dibao=40,
              deceased_active=24, duplicate_payments=16)  # fmt: skip
SQL = {
    "demo.payroll_on_dibao": """
        SELECT d.region_code FROM f.payroll p JOIN dibao_recipients d
          ON d.id_number = p.id_number WHERE d.status = 'active'""",
    "demo.dibao_after_death": f"""
        SELECT d.region_code FROM dibao_recipients d JOIN death_registrations x
          ON x.id_number = d.id_number
         WHERE julianday(d.last_paid) - julianday(x.death_date) >= {GRACE_DAYS}""",
    "demo.duplicate_subsidy": """
        SELECT a.region_code FROM f.fund_disbursements a JOIN f.fund_disbursements b
          ON a.payee_uscc = b.payee_uscc AND a.project = b.project AND a.amount = b.amount
         AND a.disbursement_id < b.disbursement_id""",
    "demo.ghost_on_payroll": """
        SELECT p.region_code FROM f.payroll p
          JOIN dibao_recipients d ON d.id_number = p.id_number
          JOIN death_registrations x ON x.id_number = p.id_number WHERE d.status = 'active'""",
}


@pytest.mark.parametrize("model", DEMO_MODELS, ids=[m["id"] for m in DEMO_MODELS])
def test_each_demo_model_compiles_against_the_demo_entries(model: dict[str, object]) -> None:
    fields = {e.id: {f.name: f.type for f in e.fields} for e in dataset_entries()}
    spec = ModelSpec.model_validate({k: model[k] for k in ("sides", "joins", "conditions",
                                                           "output")})  # fmt: skip
    compiled = compile_model(spec, model_id=str(model["id"]), version=1, fields=fields)
    assert compiled.sides[0].key in ("id_number", "payee_uscc")


def test_planted_counts_are_what_each_rule_finds(tmp_path: Path) -> None:
    report = generate(seed=5, sizes=SIZES, targets=[SqliteTarget(tmp_path)])
    conn = sqlite3.connect(tmp_path / "civil.db")
    conn.execute(f"ATTACH DATABASE '{tmp_path / 'finance.db'}' AS f")
    for model, sql in SQL.items():
        regions = [r[0] for r in conn.execute(sql)]
        planted = report.planted[model]
        assert planted.total == len(regions) > 0, model
        assert planted.by_region == {r: regions.count(r) for r in sorted(set(regions))}, model
    decoys = conn.execute("""SELECT count(*) FROM dibao_recipients d JOIN death_registrations x
        ON x.id_number = d.id_number WHERE d.status = 'active'""").fetchone()[0]  # fmt: skip
    assert decoys > report.planted["demo.dibao_after_death"].total  # the dates matter
