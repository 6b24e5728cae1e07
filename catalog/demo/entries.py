"""Catalog entries of the demo: departments, their sources and one published dataset per table.

The physical columns come from ``tables`` (one truth for the generator and the
catalog); this module adds titles, descriptions, tags and the classification of each
field. ``dataset_entries`` refuses a table whose columns and classification disagree.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from catalog.demo.tables import DEPARTMENT_FILES, TABLES_BY_NAME
from catalog.schemas import DatasetIn, FieldIn

DEPARTMENTS: tuple[tuple[str, str, str], ...] = (
    ("finance", "财政局", "Finance Bureau"),
    ("civil", "民政局", "Civil Affairs Bureau"),
    ("audit", "审计局", "Audit Bureau"),
)

PURPOSES = ["supervision", "audit", "case_investigation"]

# field name -> (level, PI category, description)
_CLASSIFICATION: dict[str, tuple[str, str, str]] = {
    "id_number": ("L3", "id_number", "居民身份证号 / resident ID number"),
    "name": ("L3", "name", "姓名 / full name"),
    "phone": ("L3", "phone", "手机号码 / mobile phone number"),
    "bank_card": ("L3", "bank_card", "工资卡号 / salary bank card number"),
    "address": ("L3", "address", "家庭住址 / home address"),
    "employer": ("L2", "none", "工作单位 / employing public unit"),
    "position": ("L2", "none", "职务 / position"),
    "monthly_salary": ("L2", "none", "月工资(元) / monthly salary (yuan)"),
    "disbursement_id": ("L1", "none", "拨付单号 / disbursement number"),
    "project": ("L1", "none", "补贴项目 / subsidy programme"),
    "payee_uscc": ("L2", "uscc", "收款单位统一社会信用代码 / payee's unified social credit code"),
    "amount": ("L2", "none", "金额(元) / amount (yuan)"),
    "paid_date": ("L1", "none", "拨付日期 / payment date"),
    "household_size": ("L2", "none", "保障人口数 / household members covered"),
    "monthly_amount": ("L2", "none", "月保障金额(元) / monthly allowance (yuan)"),
    "start_date": ("L2", "none", "纳入保障日期 / date the allowance started"),
    "status": ("L1", "none", "状态 / status"),
    "last_paid": ("L2", "none", "末次发放日期 / date of the last payment"),
    "death_date": ("L2", "none", "死亡日期 / date of death"),
    "finding_id": ("L1", "none", "审计发现编号 / finding number"),
    "audited_unit": ("L1", "none", "被审计单位 / audited unit"),
    "category": ("L1", "none", "问题类别 / category of the finding"),
    "finding_date": ("L1", "none", "发现日期 / date of the finding"),
    "region_code": ("L1", "none", "行政区划代码(县级) / county-level region code"),
}

_STATUS_NOTES = {
    "dibao_recipients": "状态 / status: active, suspended, terminated",
    "audit_findings": "整改状态 / status: open, rectifying, closed",
}

_ENTRIES: dict[str, dict[str, Any]] = {
    "payroll": {
        "title_zh": "财政供养人员工资发放名册",
        "title_en": "Public payroll",
        "description_zh": "由财政统一发放工资的机关事业单位在编人员:"
        "身份证号、姓名、单位、职务、月工资、工资卡号。",
        "description_en": "People paid from the public budget (civil servants and public "
        "institution staff): ID number, name, employer, position, monthly salary, bank card.",
        "tags": ["工资", "财政供养", "payroll", "salary", "公职人员"],
        "update_frequency": "monthly",
    },
    "fund_disbursements": {
        "title_zh": "惠民惠农补贴资金拨付明细",
        "title_en": "Subsidy fund disbursements",
        "description_zh": "各类财政补贴资金向企业、合作社和事业单位的拨付记录。",
        "description_en": "Payments of subsidy programmes to companies, cooperatives and "
        "public institutions, with the payee's unified social credit code.",
        "tags": ["补贴", "资金拨付", "subsidy", "grants", "惠民惠农"],
        "update_frequency": "daily",
    },
    "dibao_recipients": {
        "title_zh": "城乡低保对象名册",
        "title_en": "Dibao (minimum livelihood guarantee) recipients",
        "description_zh": "享受城乡居民最低生活保障(低保)的对象:"
        "身份证号、姓名、电话、住址、保障人口、月保障金额、纳入日期、状态。",
        "description_en": "Recipients of the minimum livelihood guarantee (dibao, the "
        "subsistence allowance): ID number, name, phone, address, household size, monthly "
        "amount, start date and status.",
        "tags": ["低保", "dibao", "welfare", "救助", "社会救助", "subsistence allowance"],
        "update_frequency": "monthly",
    },
    "death_registrations": {
        "title_zh": "死亡人员登记信息",
        "title_en": "Death registrations",
        "description_zh": "殡葬管理与户籍注销的死亡登记:身份证号、姓名、死亡日期。",
        "description_en": "Registered deaths: ID number, name and date of death.",
        "tags": ["死亡", "殡葬", "death", "deceased", "户籍"],
        "update_frequency": "daily",
    },
    "audit_findings": {
        "title_zh": "审计发现问题清单",
        "title_en": "Audit findings",
        "description_zh": "审计中发现的问题:被审计单位、问题类别、涉及金额、整改状态。",
        "description_en": "Problems found by audits: audited unit, category, amount involved "
        "and rectification status.",
        "tags": ["审计", "整改", "audit", "findings", "问题清单"],
        "update_frequency": "weekly",
    },
}


def source_id(department: str) -> str:
    return f"{department}-db"


def source_settings(department: str, data_dir: Path) -> dict[str, str]:
    """Connection settings of a department's demo SQLite file (absolute path)."""
    path = (data_dir / DEPARTMENT_FILES[department]).resolve()
    return {"url": f"sqlite:///{path}"}


def source_entries(data_dir: Path) -> list[dict[str, Any]]:
    """Column values of the three demo sources."""
    names = {code: (zh, en) for code, zh, en in DEPARTMENTS}
    return [
        {
            "id": source_id(code),
            "department": code,
            "kind": "sqlite",
            "display_name": f"{names[code][0]}业务库 / {names[code][1]} database",
            "settings": source_settings(code, data_dir),
        }
        for code in DEPARTMENT_FILES
    ]


def dataset_entries() -> list[DatasetIn]:
    """The five demo catalog entries, validated by the same schema stewards use."""
    entries = []
    for table, meta in _ENTRIES.items():
        spec = TABLES_BY_NAME[table]
        fields = []
        for column in spec.columns:
            level, pi, description = _CLASSIFICATION[column.name]
            if column.name == "status":
                description = _STATUS_NOTES.get(table, description)
            fields.append(
                FieldIn(
                    name=column.name,
                    type=column.type,
                    level=level,  # type: ignore[arg-type]
                    pi_category=pi,  # type: ignore[arg-type]
                    description=description,
                )
            )
        level = max((f.level for f in fields), key=lambda lv: lv.rank)
        entries.append(
            DatasetIn(
                id=spec.dataset_id,
                department=spec.department,
                source_id=source_id(spec.department),
                object_name=spec.name,
                level=level,
                allowed_purposes=list(PURPOSES),
                region_field="region_code",
                fields=fields,
                **meta,
            )
        )
    return entries
