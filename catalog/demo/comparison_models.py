"""The demo's comparison models: what a city commission would build once and every
county run ("模型共建共享"), each with what the generator planted for it to find.

The rules are plain JSON in the shape ``gateway.enforcement.comparison.spec.ModelSpec``
validates (the catalog sits below the gateway and cannot import it;
``tests/catalog/test_demo_models.py`` validates and compiles them). The generator counts,
exactly and per county, the rows each model must find (``planted``), by the same rule:

- ``demo.payroll_on_dibao``: public employees drawing the allowance — payroll × dibao on
  the ID number, dibao status ``active`` (decoys: payroll people whose dibao was
  terminated);
- ``demo.dibao_after_death``: the allowance paid at least ``GRACE_DAYS`` after the
  date of death — dibao × death registrations on the ID number, ``last_paid -
  death_date >= 30`` (decoys: deaths in the month before the last payment, still being
  processed; recipients terminated before they died);
- ``demo.duplicate_subsidy``: one payee paid the same subsidy twice — disbursements ×
  disbursements (a self-join) on the payee's credit code, same programme, same amount,
  counted once per pair (decoys: the same payee paid the same programme another amount);
- ``demo.ghost_on_payroll``: the three-way model — registered dead, yet on the payroll
  and drawing an active allowance (decoys: a dead payroll person whose dibao was
  terminated).
"""

from __future__ import annotations

from datetime import date
from typing import Any

GRACE_DAYS = 30
"""Deaths registered less than this before the last payment may still be processed."""
LAST_PAYMENT = date(2024, 12, 1)
"""The demo world's last monthly allowance payment (``rows.AS_OF`` is 2024-12-31)."""

PAYROLL_ON_DIBAO = "demo.payroll_on_dibao"
DIBAO_AFTER_DEATH = "demo.dibao_after_death"
DUPLICATE_SUBSIDY = "demo.duplicate_subsidy"
GHOST_ON_PAYROLL = "demo.ghost_on_payroll"

DEMO_OWNER = "dora"
"""The city commission's analyst who built them (every county, L3)."""
SHARED_LEVELS = ["province", "city", "county"]


def _f(ref: str) -> dict[str, str]:
    return {"field": ref}


def _s(value: str) -> dict[str, str]:
    return {"value": value, "type": "string"}


def _eq(left: dict[str, Any], right: dict[str, Any]) -> dict[str, Any]:
    return {"op": "=", "args": [left, right]}


_ID = "id_number"

DEMO_MODELS: tuple[dict[str, Any], ...] = (
    {
        "id": PAYROLL_ON_DIBAO,
        "name": {"zh": "财政供养人员领取低保", "en": "Public employees drawing dibao"},
        "description": {
            "zh": "工资名册与低保名册按身份证号比对,低保状态为在保。",
            "en": "Payroll matched with the dibao roll on the ID number; dibao still active.",
        },
        "sides": [
            {"alias": "p", "dataset": "finance.payroll"},
            {"alias": "d", "dataset": "civil.dibao_recipients"},
        ],
        "joins": [{"left": "p", "left_key": _ID, "right": "d", "right_key": _ID}],
        "conditions": [_eq(_f("d.status"), _s("active"))],
        "output": ["p.name", "p.employer", "p.monthly_salary", "d.monthly_amount", "d.region_code"],
    },
    {
        "id": DIBAO_AFTER_DEATH,
        "name": {"zh": "死亡后仍发放低保", "en": "Dibao paid after death"},
        "description": {
            "zh": f"低保末次发放日期晚于死亡日期{GRACE_DAYS}天以上。",
            "en": f"The allowance was last paid {GRACE_DAYS} days or more after the "
            "registered date of death.",
        },
        "sides": [
            {"alias": "d", "dataset": "civil.dibao_recipients"},
            {"alias": "x", "dataset": "civil.death_registrations"},
        ],
        "joins": [{"left": "d", "left_key": _ID, "right": "x", "right_key": _ID}],
        "conditions": [
            {
                "op": ">=",
                "args": [
                    {"op": "-", "args": [_f("d.last_paid"), _f("x.death_date")]},
                    {"value": GRACE_DAYS, "type": "number"},
                ],
            }
        ],
        "output": [
            "d.name",
            "d.status",
            "d.last_paid",
            "d.monthly_amount",
            "x.death_date",
            "d.region_code",
        ],
    },
    {
        "id": DUPLICATE_SUBSIDY,
        "name": {"zh": "同一补贴重复拨付", "en": "Same subsidy paid twice"},
        "description": {
            "zh": "同一收款单位、同一补贴项目、同一金额的两笔拨付。",
            "en": "Two disbursements of the same programme and amount to the same payee.",
        },
        "sides": [
            {"alias": "a", "dataset": "finance.fund_disbursements"},
            {"alias": "b", "dataset": "finance.fund_disbursements"},
        ],
        "joins": [{"left": "a", "left_key": "payee_uscc", "right": "b", "right_key": "payee_uscc"}],
        "conditions": [
            _eq(_f("a.project"), _f("b.project")),
            _eq(_f("a.amount"), _f("b.amount")),
            {"op": "<", "args": [_f("a.disbursement_id"), _f("b.disbursement_id")]},
        ],
        "output": [
            "a.disbursement_id",
            "b.disbursement_id",
            "a.project",
            "a.amount",
            "a.paid_date",
            "b.paid_date",
            "a.region_code",
        ],
    },
    {
        "id": GHOST_ON_PAYROLL,
        "name": {"zh": "死亡人员仍在职在保", "en": "Dead, yet on the payroll and on dibao"},
        "description": {
            "zh": "工资名册、低保名册与死亡登记三方比对:已登记死亡仍领工资且低保在保。",
            "en": "Payroll, dibao roll and death register: registered dead, yet paid a salary "
            "and an active allowance.",
        },
        "sides": [
            {"alias": "p", "dataset": "finance.payroll"},
            {"alias": "d", "dataset": "civil.dibao_recipients"},
            {"alias": "x", "dataset": "civil.death_registrations"},
        ],
        "joins": [
            {"left": "p", "left_key": _ID, "right": "d", "right_key": _ID},
            {"left": "p", "left_key": _ID, "right": "x", "right_key": _ID},
        ],
        "conditions": [_eq(_f("d.status"), _s("active"))],
        "output": ["p.name", "p.employer", "d.monthly_amount", "x.death_date", "p.region_code"],
    },
)


def model_rows(model: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """The ``comparison_models`` and ``comparison_model_versions`` values of one model
    (version 1), owned by ``DEMO_OWNER`` and shared with every level."""
    spec = {k: model[k] for k in ("sides", "joins", "conditions", "output")}
    entries = list(dict.fromkeys(s["dataset"] for s in model["sides"]))
    head = {"id": model["id"], "owner": DEMO_OWNER, "department": None, "current_version": 1,
            "shared_departments": [], "shared_levels": list(SHARED_LEVELS)}  # fmt: skip
    version = {
        "model_id": model["id"], "version": 1, "name_zh": model["name"]["zh"],
        "name_en": model["name"]["en"], "description_zh": model["description"]["zh"],
        "description_en": model["description"]["en"], "spec": spec, "entries": entries,
        "created_by": DEMO_OWNER,
    }  # fmt: skip
    return head, version
