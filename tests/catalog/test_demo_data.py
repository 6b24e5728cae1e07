"""The demo data generator: determinism, valid identifiers, exact planted anomalies on
SQLite, PostgreSQL and MariaDB, and the ``sluice demo-data`` command."""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import psycopg
import pymysql
import pytest
from click.testing import CliRunner
from sqlalchemy.engine import make_url
from stdnum import luhn
from stdnum.cn import ric, uscc

from catalog.demo.generator import Anomalies, Sizes, generate
from catalog.demo.regions import REGIONS
from catalog.demo.targets import SqliteTarget, open_target
from catalog.errors import BadRequest
from gateway.cli.main import cli

SMALL = Sizes(
    payroll=1_500,
    fund_disbursements=300,
    dibao_recipients=2_000,
    death_registrations=500,
    audit_findings=100,
)
PAYROLL_ON_DIBAO = """
    SELECT COUNT(DISTINCT p.id_number) FROM payroll p
    JOIN dibao_recipients d ON d.id_number = p.id_number WHERE d.status = 'active'"""
DECEASED_ACTIVE = """
    SELECT COUNT(DISTINCT d.id_number) FROM dibao_recipients d
    JOIN death_registrations r ON r.id_number = d.id_number
    WHERE d.status = 'active' AND r.death_date < CURRENT_DATE"""
ANY_PAYROLL_IN_DIBAO = """
    SELECT COUNT(*) FROM payroll p JOIN dibao_recipients d ON d.id_number = p.id_number"""
ANY_DEAD_IN_DIBAO = """
    SELECT COUNT(*) FROM dibao_recipients d
    JOIN death_registrations r ON r.id_number = d.id_number"""


def _sqlite(directory: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(directory / "civil.db")
    conn.execute(f"ATTACH DATABASE '{directory / 'finance.db'}' AS finance")
    return conn


def _rows(directory: Path) -> dict[str, list[tuple[Any, ...]]]:
    out = {}
    for db, tables in (
        ("finance", ("payroll", "fund_disbursements")),
        ("civil", ("dibao_recipients", "death_registrations")),
        ("audit", ("audit_findings",)),
    ):
        with sqlite3.connect(directory / f"{db}.db") as conn:
            for table in tables:
                out[table] = conn.execute(f"SELECT * FROM {table} ORDER BY rowid").fetchall()
    return out


def _counts(query: Callable[[str], int], expected: Anomalies) -> None:
    assert query(PAYROLL_ON_DIBAO) == expected.payroll_on_dibao
    assert query(DECEASED_ACTIVE) == expected.deceased_still_active
    assert query(ANY_PAYROLL_IN_DIBAO) == expected.payroll_on_dibao + expected.payroll_left_dibao
    assert query(ANY_DEAD_IN_DIBAO) == (
        expected.deceased_still_active + expected.deceased_terminated
    )


def test_same_seed_same_rows_other_seed_other_rows(tmp_path: Path) -> None:
    first = generate(seed=7, sizes=SMALL, targets=[SqliteTarget(tmp_path / "a")])
    second = generate(seed=7, sizes=SMALL, targets=[SqliteTarget(tmp_path / "b")])
    other = generate(seed=8, sizes=SMALL, targets=[SqliteTarget(tmp_path / "c")])
    assert first.digests == second.digests and first.anomalies == second.anomalies
    assert _rows(tmp_path / "a") == _rows(tmp_path / "b")
    assert all(first.digests[t] != other.digests[t] for t in first.digests)
    assert first.rows == {t: SMALL.of(t) for t in first.rows}


def test_identifiers_are_valid(tmp_path: Path) -> None:
    generate(seed=3, sizes=SMALL, targets=[SqliteTarget(tmp_path)])
    rows = _rows(tmp_path)
    for table in ("payroll", "dibao_recipients", "death_registrations"):
        numbers = [r[0] for r in rows[table]]
        assert len(set(numbers)) == len(numbers), f"duplicate ID numbers in {table}"
        for number in numbers:
            ric.validate(number)  # length, birth date, birth place and checksum
    phone = re.compile(r"^1[3-9]\d{9}$")
    assert all(phone.match(r[2]) for r in rows["dibao_recipients"])
    assert all(luhn.is_valid(r[5]) and len(r[5]) == 19 for r in rows["payroll"])
    assert all(uscc.is_valid(r[2]) for r in rows["fund_disbursements"])
    prefix = {r.code: r.address_prefix for r in REGIONS}
    for row in rows["dibao_recipients"]:
        assert row[3].startswith(prefix[row[8]])
        assert row[7] in ("active", "suspended", "terminated")
    assert {r[-1] for r in rows["payroll"]} == set(prefix)
    names = [r[1] for r in rows["payroll"]]
    assert all(re.fullmatch(r"[\u4e00-\u9fff]{2,4}", n) for n in names)


def test_planted_anomalies_are_exact_on_sqlite(tmp_path: Path) -> None:
    sizes = Sizes(
        payroll=1_000,
        fund_disbursements=10,
        dibao_recipients=1_500,
        death_registrations=300,
        audit_findings=10,
        payroll_on_dibao=7,
        deceased_active=3,
    )
    report = generate(seed=11, sizes=sizes, targets=[SqliteTarget(tmp_path)])
    assert report.anomalies == Anomalies(7, 3, 3, 1)
    with _sqlite(tmp_path) as conn:
        _counts(lambda sql: conn.execute(sql).fetchone()[0], report.anomalies)


def _pg_query(url: str) -> Callable[[str], int]:
    u = make_url(url)

    def run(sql: str) -> int:
        with psycopg.connect(host=u.host, port=u.port, user=u.username, dbname=u.database) as c:
            row = c.execute(sql).fetchone()
            assert row is not None
            return int(row[0])

    return run


def _mysql_query(url: str) -> Callable[[str], int]:
    u = make_url(url)

    def run(sql: str) -> int:
        conn = pymysql.connect(host=u.host, port=u.port or 3306, user=u.username, password="",
                               database=u.database)  # fmt: skip
        try:
            with conn.cursor() as cur:
                cur.execute(sql)
                row: Sequence[Any] | None = cur.fetchone()
                assert row is not None
                return int(row[0])
        finally:
            conn.close()

    return run


def test_same_rows_and_exact_anomalies_in_postgres_and_mariadb(
    tmp_path: Path, pg_url: str, mysql_url: str
) -> None:
    targets = [SqliteTarget(tmp_path), open_target(pg_url), open_target(mysql_url)]
    report = generate(seed=5, sizes=SMALL, targets=targets)
    assert report.anomalies.payroll_on_dibao == 3 and report.anomalies.deceased_still_active == 2
    pg, my = _pg_query(pg_url), _mysql_query(mysql_url)
    _counts(pg, report.anomalies)
    _counts(my, report.anomalies)
    for table, count in report.rows.items():
        assert pg(f"SELECT COUNT(*) FROM {table}") == count
        assert my(f"SELECT COUNT(*) FROM {table}") == count
    assert pg("SELECT COUNT(*) FROM pg_indexes WHERE tablename = 'dibao_recipients'") == 2
    # the same rows everywhere: compare an order-independent fingerprint
    total = "SELECT SUM(monthly_amount * 100) FROM dibao_recipients"
    assert abs(pg(total) - my(total)) <= 1
    with sqlite3.connect(tmp_path / "civil.db") as conn:
        assert abs(conn.execute(total).fetchone()[0] - pg(total)) <= 1


def test_sizes_that_cannot_hold_the_anomalies_are_refused() -> None:
    with pytest.raises(BadRequest, match="too many planted"):
        Sizes(payroll=10, dibao_recipients=10, payroll_on_dibao=50).plan()
    with pytest.raises(BadRequest, match="negative"):
        Sizes(payroll=-1).plan()
    empty = Sizes(0, 0, 0, 0, 0).plan()
    assert empty.payroll_on_dibao == 0 and empty.deceased_active == 0


def test_demo_data_command(tmp_path: Path) -> None:
    home = tmp_path / "home"
    runner = CliRunner()
    env = {"SLUICE_HOME": str(home), "SLUICE_DATABASE_URL": ""}
    args = ["demo-data", "--payroll", "500", "--dibao", "800", "--deaths", "200",
            "--findings", "20", "--disbursements", "20"]  # fmt: skip
    result = runner.invoke(cli, args, env=env)
    assert result.exit_code == 0, result.output
    assert "payroll people drawing dibao (status active):      1" in result.output
    assert re.search(r"demo\.duplicate_subsidy +\d+ hits", result.output)  # per model
    assert (home / "demo" / "civil.db").exists()
    listed = runner.invoke(cli, ["catalog", "search", "低保"], env=env)
    assert listed.exit_code == 0 and "civil.dibao_recipients" in listed.output
    shown = runner.invoke(cli, ["catalog", "show", "finance.payroll"], env=env)
    assert "bank_card" in shown.output and "L3" in shown.output
    missing = runner.invoke(cli, ["catalog", "show", "nope.nope"], env=env)
    assert missing.exit_code == 1 and "not_found" in missing.output
    for command in (["demo-data"], ["catalog"], ["catalog", "list"], ["catalog", "search"],
                    ["catalog", "show"]):  # fmt: skip
        helped = runner.invoke(cli, [*command, "--help"])
        assert helped.exit_code == 0 and "Usage" in helped.output
