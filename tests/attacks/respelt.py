"""A person's ID number re-spelt in a demo department's SQLite file, as a clerk typed it
(grouped with spaces, a lower-case check digit), and put back after; and a person on
both the payroll and the roll: shared by the tests of red team 47's note and stop 37
(one person spelt apart by two departments)."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator
from contextlib import closing, contextmanager
from pathlib import Path

from gateway.enforcement.query.subjects import subject_token
from tests.attacks.redteam36 import (
    DIBAO,
    dibao_ids_body,
    dibao_number,
    query_completed,
    set_own_id_number,
)
from tests.gateway.demo_app import DemoGateway


def grouped(number: str) -> str:
    """``number`` as a clerk groups it: ``430121 19900101 123x``."""
    return f"{number[:6]} {number[6:14]} {number[14:].lower()}"


@contextmanager
def respelt(database: Path, table: str, number: str, stored: str) -> Iterator[None]:
    """Every row of ``table`` holding ``number`` holds ``stored`` instead, until exit."""
    db = sqlite3.connect(database)
    try:
        with db:
            db.execute(f"UPDATE {table} SET id_number = ? WHERE id_number = ?", (stored, number))
        yield
    finally:
        with db:
            db.execute(f"UPDATE {table} SET id_number = ? WHERE id_number = ?", (number, stored))
        db.close()


def on_payroll_and_roll(data: Path) -> str:
    """The ID number of a payroll employee drawing an active allowance (a planted hit of
    ``demo.payroll_on_dibao``), one with the check letter ``X`` if any has (its case
    can differ then), from the departments' SQLite files under ``data``."""
    with closing(sqlite3.connect(data / "finance.db")) as db:
        db.execute("ATTACH DATABASE ? AS civil", (str(data / "civil.db"),))
        (number,) = db.execute(
            "SELECT p.id_number FROM payroll p JOIN civil.dibao_recipients d "
            "ON d.id_number = p.id_number WHERE d.status = 'active' "
            "ORDER BY substr(p.id_number, 18) = 'X' DESC, p.rowid LIMIT 1").fetchone()  # fmt: skip
    return str(number)


def own_record_is_yours(gw: DemoGateway, spell: Callable[[str], str], case_ref: str) -> None:
    """The roll's 4th row's number stored as ``spell`` types it (restored after): dora,
    whose number it is, reads the roll's 20 rows holding it, and the read is still hers
    (``self_hash_hit``, her subject token on record) — red teams 47 and 50."""
    number = dibao_number(gw, 3)
    with respelt(gw.settings.demo_data_dir / "civil.db", "dibao_recipients", number,
                 spell(number)):  # fmt: skip
        set_own_id_number(gw, "dora", number)
        resp = gw.query("dora", DIBAO, dibao_ids_body(case_ref, 20))
    assert resp.status_code == 200, resp.text[:300]
    details = query_completed(gw, resp.headers["X-Request-Id"])["details"]
    assert details["self_hash_hit"] is True, details.get("self_hash_hit")
    assert subject_token(gw.settings.home, number) in details["subject_tokens"]
