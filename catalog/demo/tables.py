"""Physical schema of the demo departments' tables, shared by every write target.

Amounts are ``float64`` everywhere (REAL / DOUBLE PRECISION / DOUBLE) rather than
NUMERIC so the three databases return the same Python type and SQLAlchemy does not
warn about Decimal emulation on SQLite; dates travel as ISO ``YYYY-MM-DD`` text and
are stored as DATE.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Column:
    """One column: a catalog logical type (``catalog.vocabulary.FIELD_TYPES``)."""

    name: str
    type: str  # string | int64 | float64 | date
    length: int = 0  # VARCHAR length for MariaDB/PostgreSQL; 0 = not a string


@dataclass(frozen=True)
class TableSpec:
    """A demo table, the department that owns it and the columns to index."""

    name: str
    department: str
    columns: tuple[Column, ...]
    indexes: tuple[str, ...]

    @property
    def column_names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns)

    @property
    def dataset_id(self) -> str:
        return f"{self.department}.{self.name}"


def _s(name: str, length: int) -> Column:
    return Column(name, "string", length)


PAYROLL = TableSpec(
    "payroll",
    "finance",
    (
        _s("id_number", 18),
        _s("name", 32),
        _s("employer", 64),
        _s("position", 32),
        Column("monthly_salary", "float64"),
        _s("bank_card", 19),
        _s("region_code", 6),
    ),
    ("id_number", "region_code"),
)
FUND_DISBURSEMENTS = TableSpec(
    "fund_disbursements",
    "finance",
    (
        _s("disbursement_id", 16),
        _s("project", 64),
        _s("payee_uscc", 18),
        Column("amount", "float64"),
        Column("paid_date", "date"),
        _s("region_code", 6),
    ),
    ("disbursement_id", "payee_uscc", "region_code"),
)
DIBAO_RECIPIENTS = TableSpec(
    "dibao_recipients",
    "civil",
    (
        _s("id_number", 18),
        _s("name", 32),
        _s("phone", 11),
        _s("address", 128),
        Column("household_size", "int64"),
        Column("monthly_amount", "float64"),
        Column("start_date", "date"),
        _s("status", 16),
        _s("region_code", 6),
        Column("last_paid", "date"),
    ),
    ("id_number", "region_code"),
)
DEATH_REGISTRATIONS = TableSpec(
    "death_registrations",
    "civil",
    (
        _s("id_number", 18),
        _s("name", 32),
        Column("death_date", "date"),
        _s("region_code", 6),
    ),
    ("id_number", "region_code"),
)
AUDIT_FINDINGS = TableSpec(
    "audit_findings",
    "audit",
    (
        _s("finding_id", 16),
        _s("audited_unit", 64),
        _s("category", 32),
        Column("amount", "float64"),
        _s("status", 16),
        _s("region_code", 6),
        Column("finding_date", "date"),
    ),
    ("finding_id", "region_code"),
)

# Generation order matters: planted people flow payroll → dibao → deaths.
TABLES: tuple[TableSpec, ...] = (
    PAYROLL,
    FUND_DISBURSEMENTS,
    DIBAO_RECIPIENTS,
    DEATH_REGISTRATIONS,
    AUDIT_FINDINGS,
)
TABLES_BY_NAME: dict[str, TableSpec] = {t.name: t for t in TABLES}
DEPARTMENT_FILES: dict[str, str] = {
    "finance": "finance.db",
    "civil": "civil.db",
    "audit": "audit.db",
}
